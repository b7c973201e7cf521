//! Counters of what memory did and what failed, the recall latency histogram, and their
//! Prometheus text form, for logs, health checks and `/metrics`.
//!
//! The text format is written here rather than through a metrics crate: the counters are
//! already atomics shared by every clone of a `Memori`, the format is a dozen lines, and a
//! registry would add global state a library should not impose on its host application.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

macro_rules! metrics {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Counters of what memory did and what failed, shared by every clone of a
        /// [`crate::Memori`]. Read them with [`Metrics::snapshot`].
        #[derive(Debug, Default)]
        pub struct Metrics {
            $($(#[doc = $doc])* pub(crate) $name: AtomicU64,)*
            /// How long successful recalls took.
            pub(crate) recall_latency: Histogram,
        }

        /// The counters at one moment.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
        #[non_exhaustive]
        pub struct MetricsSnapshot {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl Metrics {
            /// Current values.
            pub fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }

        impl MetricsSnapshot {
            /// Each counter with its name and documentation.
            fn counters(&self) -> Vec<(&'static str, u64, &'static str)> {
                vec![$((stringify!($name), self.$name, concat!($($doc, " "),*)),)*]
            }
        }
    };
}

metrics! {
    /// Recalls that failed or timed out (the agent call went on without memory).
    recall_failures,
    /// Recalls that timed out (also counted in `recall_failures`).
    recall_timeouts,
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

/// Upper bounds of the recall latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// A latency histogram with fixed buckets ([`BUCKETS`]), lock-free.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    /// Observations per bucket (not cumulative); the last one is above every bound.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Count one observation.
    pub(crate) fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Cumulative counts per bound (the last is `+Inf`) and the sum in seconds.
    fn read(&self) -> (Vec<u64>, f64) {
        let mut total = 0;
        let cumulative = self.counts.iter().map(|c| {
            total += c.load(Ordering::Relaxed);
            total
        });
        (cumulative.collect(), self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6)
    }
}

/// What `/metrics` reports besides this process's counters: state read from the database and
/// from the process's caches and spool. `None` where it could not be read.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    /// Jobs waiting or running, across every process sharing the database.
    pub queue_depth: Option<u64>,
    /// Age of the oldest waiting job: how far augmentation is behind.
    pub augmentation_lag: Option<Duration>,
    /// Bytes of captures waiting in this process's spool for the database.
    pub spool_bytes: usize,
    /// Entity indexes cached for recall in this process, and their approximate bytes.
    pub cache_entities: usize,
    /// See `cache_entities`.
    pub cache_bytes: usize,
    /// Whether the database answered.
    pub database_up: bool,
}

impl Metrics {
    /// Every counter, the recall histogram and `gauges` in the Prometheus text format
    /// (version 0.0.4), names prefixed `memori_`. Holds no end-user text and no ids.
    pub fn prometheus(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let (buckets, sum) = self.recall_latency.read();
        let count = buckets.last().copied().unwrap_or(0);
        let name = "memori_recall_duration_seconds";
        let _ = writeln!(out, "# HELP {name} How long successful recalls took.\n# TYPE {name} histogram");
        for (bound, n) in BUCKETS.iter().map(ToString::to_string).chain(["+Inf".to_owned()]).zip(&buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
        for (name, value, doc) in self.snapshot().counters() {
            let _ = writeln!(out, "# HELP memori_{name}_total {}", help(doc));
            let _ = writeln!(out, "# TYPE memori_{name}_total counter\nmemori_{name}_total {value}");
        }
        let gauge = |out: &mut String, name: &str, help: &str, value: Option<f64>| {
            if let Some(v) = value {
                let _ = writeln!(out, "# HELP memori_{name} {help}\n# TYPE memori_{name} gauge\nmemori_{name} {v}");
            }
        };
        let up = if gauges.database_up { 1.0 } else { 0.0 };
        gauge(&mut out, "database_up", "Whether the database answered this scrape.", Some(up));
        let depth = gauges.queue_depth.map(|d| d as f64);
        gauge(&mut out, "jobs_outstanding", "Augmentation jobs waiting or running, all processes.", depth);
        let lag = gauges.augmentation_lag.map(|d| d.as_secs_f64());
        gauge(&mut out, "augmentation_lag_seconds", "Age of the oldest waiting augmentation job.", lag);
        let spool = Some(gauges.spool_bytes as f64);
        gauge(&mut out, "spool_bytes", "Bytes of captures waiting in this process for the database.", spool);
        let entities = Some(gauges.cache_entities as f64);
        gauge(&mut out, "recall_cache_entities", "Entity indexes cached for recall in this process.", entities);
        let bytes = Some(gauges.cache_bytes as f64);
        gauge(&mut out, "recall_cache_bytes", "Approximate bytes of the cached recall indexes.", bytes);
        out
    }
}

/// The answer of [`crate::Memori::readiness`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// The database answers and its schema is current.
    pub ready: bool,
    /// What is wrong when not ready (no credentials: URLs are redacted in errors).
    pub problem: Option<String>,
}

impl crate::Memori {
    /// This process's counters and recall histogram with the queue, spool and cache gauges, in
    /// the Prometheus text format (what `memori serve` answers on `/metrics`; mount it in your
    /// own service the same way). A database that does not answer gives `memori_database_up 0`
    /// and leaves the queue gauges out; it never fails.
    pub async fn prometheus_metrics(&self) -> String {
        let queue = crate::store::jobs::queue_state(&self.inner.db).await;
        let (cache_entities, cache_bytes) = self.recall_cache_usage();
        let lag = |oldest: i64| {
            let ms = chrono::Utc::now().timestamp_millis().saturating_sub(oldest).max(0);
            std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        };
        let gauges = Gauges {
            database_up: queue.is_ok(),
            queue_depth: queue.as_ref().ok().map(|q| q.0),
            augmentation_lag: match &queue {
                Ok((_, Some(oldest))) => Some(lag(*oldest)),
                Ok((_, None)) => Some(std::time::Duration::ZERO),
                Err(_) => None,
            },
            spool_bytes: self.spool_usage().1,
            cache_entities,
            cache_bytes,
        };
        self.inner.metrics.prometheus(&gauges)
    }

    /// Whether this process can serve: the database answers and holds every migration this
    /// build knows. For readiness probes (`/readyz`).
    pub async fn readiness(&self) -> Readiness {
        match crate::store::readiness(&self.inner.db).await {
            Ok(0) => Readiness { ready: true, problem: None },
            Ok(n) => Readiness {
                ready: false,
                problem: Some(format!("{n} schema migration(s) not applied; run `memori migrate`")),
            },
            Err(e) => Readiness { ready: false, problem: Some(e.to_string()) },
        }
    }
}

/// A doc comment as one line of plain text for `# HELP` (no link brackets or backticks).
fn help(doc: &str) -> String {
    let plain = doc.replace("[`crate::", "").replace("[`", "").replace("`]", "").replace('`', "");
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
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

    #[test]
    fn the_prometheus_text_has_cumulative_buckets_counters_and_known_gauges_only() {
        let m = Metrics::default();
        m.recall_latency.observe(Duration::from_micros(800));
        m.recall_latency.observe(Duration::from_millis(30));
        m.recall_latency.observe(Duration::from_secs(9));
        Metrics::add(&m.captures_queued, 7);
        let text = m.prometheus(&Gauges { queue_depth: Some(4), database_up: true, ..Gauges::default() });
        let line = |prefix: &str| text.lines().find(|l| l.starts_with(prefix)).map(str::to_owned);
        assert_eq!(
            line("memori_recall_duration_seconds_bucket{le=\"0.001\"}").unwrap(),
            "memori_recall_duration_seconds_bucket{le=\"0.001\"} 1"
        );
        assert!(text.contains("memori_recall_duration_seconds_bucket{le=\"0.05\"} 2\n"), "{text}");
        assert!(text.contains("memori_recall_duration_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("memori_recall_duration_seconds_count 3\n"));
        assert!(text.contains("memori_captures_queued_total 7\n"));
        assert!(text.contains("memori_jobs_outstanding 4\n") && text.contains("memori_database_up 1\n"));
        assert!(!text.contains("augmentation_lag"), "an unknown gauge is left out, not reported as 0");
        let help = line("# HELP memori_recall_vector_skipped_total").unwrap();
        assert!(
            !help.contains('`') && !help.contains('[') && help.contains("Config::query_embedding_budget"),
            "{help}"
        );
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = l.rsplit_once(' ').unwrap();
            assert!(name.starts_with("memori_") && value.parse::<f64>().is_ok(), "{l}");
        }
    }
}
