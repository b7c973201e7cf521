//! The background queue as the front door shows it: waiting for augmentation (`flush`),
//! listing jobs and reviving failed ones.

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::Memori;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{JobInfo, JobStatus};
use crate::store;

impl Memori {
    /// Wait until the job queue is drained and nothing is spooled, for at most one minute.
    pub async fn flush(&self) -> Result<()> {
        self.flush_timeout(Duration::from_secs(60)).await
    }

    /// Wait until no job is pending or running (in this or any process sharing the database)
    /// and nothing is spooled, for at most `timeout`.
    pub async fn flush_timeout(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let signals = &self.inner.signals;
        loop {
            let progressed = signals.progress.notified();
            // The spool first: a batch leaves it only after its job row is committed, so a job
            // written after this read is seen by the count below. Counted the other way round,
            // a batch written between the two reads would be missed by both.
            let (spooled, _) = self.inner.spool.usage();
            let outstanding = store::jobs::outstanding(&self.inner.db).await?;
            if outstanding == 0 && spooled == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let hint = if self.inner.config.workers == 0 { " (this process runs no workers)" } else { "" };
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("{outstanding} jobs and {spooled} spooled captures still pending after {timeout:?}{hint}"),
                ));
            }
            signals.wake.notify_waiters();
            tokio::select! {
                () = progressed => {}
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// How many jobs are waiting or running (what `flush` waits for), across every process.
    pub async fn outstanding_jobs(&self) -> Result<u64> {
        store::jobs::outstanding(&self.inner.db).await
    }

    /// How many jobs are dead letters (failed on every attempt).
    pub async fn dead_jobs(&self) -> Result<u64> {
        store::jobs::dead(&self.inner.db).await
    }

    /// Background jobs, newest first, optionally only those in one status.
    pub async fn jobs(&self, status: Option<JobStatus>, limit: u64) -> Result<Vec<JobInfo>> {
        store::jobs::list(&self.inner.db, status, limit).await
    }

    /// Run a job again now, with a fresh attempt budget: a dead letter, a waiting job, or a
    /// finished one (handlers are idempotent, so re-running a finished job changes nothing
    /// unless the extractor changed). Returns `false` when no such job exists or it is running.
    pub async fn retry_job(&self, id: i64) -> Result<bool> {
        let changed = store::jobs::retry(&self.inner.db, Some(id), store::ms(Utc::now())).await? > 0;
        self.inner.signals.wake.notify_waiters();
        Ok(changed)
    }

    /// Run every dead letter again. Returns how many were revived.
    pub async fn retry_dead_jobs(&self) -> Result<u64> {
        let n = store::jobs::retry(&self.inner.db, None, store::ms(Utc::now())).await?;
        self.inner.signals.wake.notify_waiters();
        Ok(n)
    }
}
