//! Capture: store an exchange's messages and enqueue their augmentation, in one transaction.
//!
//! [`Memori::capture`] and friends return the store's answer to the caller. The agent path
//! ([`Memori::capture_logged`], which the rig adapter uses) never fails the call: by default it
//! hands the exchange to the background writer (the [`spool`]'s drain), and an exchange the
//! database does not take waits in the spool until it answers.

pub(crate) mod spool;

use chrono::Utc;

use crate::config::CaptureMode;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::Metrics;
use crate::model::{CaptureReceipt, Message};
use crate::scope::{MAX_ID_BYTES, Scope};
use crate::store::{self, NewMessage};
use crate::{MAX_MESSAGE_BYTES, Memori};

/// Validate keyed messages into a store batch: keys of 1 to 255 bytes, texts within
/// [`MAX_MESSAGE_BYTES`]. Nothing is stored when one is invalid.
pub(crate) fn validate(messages: Vec<(Message, String)>, run_id: Option<&str>) -> Result<Vec<NewMessage>> {
    let mut batch = Vec::with_capacity(messages.len());
    for (i, (message, key)) in messages.into_iter().enumerate() {
        if key.is_empty() || key.len() > MAX_ID_BYTES {
            return Err(Error::invalid_input(format!(
                "message {i}: idempotency key must be 1 to {MAX_ID_BYTES} bytes, got {}",
                key.len()
            )));
        }
        let text = message.plain_text();
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(Error::invalid_input(format!(
                "message {i} is {} bytes of text, the limit is {MAX_MESSAGE_BYTES}; nothing was stored",
                text.len()
            )));
        }
        batch.push(NewMessage { message, text, idempotency_key: key, run_id: run_id.map(str::to_owned) });
    }
    Ok(batch)
}

impl Memori {
    /// Store messages of one exchange and enqueue their augmentation. Each call is one
    /// transaction and gets a fresh idempotency key; use [`Memori::capture_keyed`] when the
    /// same exchange may be submitted twice.
    pub async fn capture(&self, scope: &Scope, messages: Vec<Message>) -> Result<CaptureReceipt> {
        self.capture_keyed(scope, &uuid::Uuid::new_v4().to_string(), messages).await
    }

    /// Like [`Memori::capture`], with an idempotency key for the batch: message `i` is stored
    /// under `"{key}:{i}"`, so submitting the same batch again stores nothing twice.
    pub async fn capture_keyed(&self, scope: &Scope, key: &str, messages: Vec<Message>) -> Result<CaptureReceipt> {
        let keys: Vec<String> = (0..messages.len()).map(|i| format!("{key}:{i}")).collect();
        self.capture_with_keys(scope, messages.into_iter().zip(keys).collect(), None).await
    }

    /// Store messages, each with its own idempotency key (at most 255 bytes), optionally
    /// tagged with the agent run they came from.
    #[tracing::instrument(name = "memori.capture", skip_all, fields(messages = messages.len()))]
    pub async fn capture_with_keys(
        &self,
        scope: &Scope,
        messages: Vec<(Message, String)>,
        run_id: Option<&str>,
    ) -> Result<CaptureReceipt> {
        let batch = validate(messages, run_id)?;
        if batch.is_empty() {
            return Ok(CaptureReceipt::default());
        }
        let receipt =
            store::capture::capture(&self.inner.db, scope, batch, self.inner.config.jobs.max_attempts).await?;
        if receipt.job_id.is_some() {
            self.inner.signals.wake.notify_waiters();
        }
        Ok(receipt)
    }

    /// Capture on behalf of an agent call; never fails the call. With
    /// [`crate::CaptureMode::Background`] (the default) the exchange is handed to the
    /// background writer and `None` is returned at once. With `Inline` it is written before
    /// this returns, bounded by [`crate::Config::capture_timeout`], and the receipt returned;
    /// when the database does not answer, the exchange is spooled (up to
    /// [`crate::Config::spool_bytes`]) and written once it does. An exchange that is lost (a
    /// full spool, or invalid input) is logged and counted in
    /// [`crate::MetricsSnapshot::spool_dropped`] or [`crate::MetricsSnapshot::capture_failures`].
    pub async fn capture_logged(&self, scope: &Scope, messages: Vec<Message>) -> Option<CaptureReceipt> {
        if messages.is_empty() {
            return None;
        }
        let run = uuid::Uuid::new_v4().to_string();
        let now = Utc::now();
        let keyed: Vec<(Message, String)> = messages
            .into_iter()
            .enumerate()
            .map(|(i, mut m)| {
                // The time it was said, not the time a queued copy is finally written.
                m.said_at.get_or_insert(now);
                (m, format!("run:{run}:{i}"))
            })
            .collect();
        let spool = &self.inner.spool;
        if self.inner.config.capture == CaptureMode::Background && spool.enabled() {
            // Refuse what the writer would refuse, now, where the caller's logs show it.
            if let Err(e) = validate(keyed.clone(), Some(&run)) {
                Metrics::inc(&self.inner.metrics.capture_failures);
                tracing::error!(error = %e, kind = ?e.kind(), "memori capture refused; this exchange was not stored");
                return None;
            }
            let batch = spool::Batch::new(scope, keyed, Some(run));
            let waiting = spool.is_failing();
            if self.spool(if waiting { batch.waiting() } else { batch }) {
                Metrics::inc(&self.inner.metrics.captures_queued);
                if waiting {
                    Metrics::inc(&self.inner.metrics.spooled);
                }
            }
            return None;
        }
        if !spool.is_empty() {
            // Behind what is spooled already, so a session's messages keep their order.
            if self.spool(spool::Batch::new(scope, keyed, Some(run)).waiting()) {
                Metrics::inc(&self.inner.metrics.spooled);
            }
            return None;
        }
        let timeout = self.inner.config.capture_timeout;
        let error = match tokio::time::timeout(timeout, self.capture_with_keys(scope, keyed.clone(), Some(&run))).await
        {
            Ok(Ok(receipt)) => return Some(receipt),
            Ok(Err(e)) => e,
            Err(_) => Error::new(ErrorKind::Timeout, format!("capture took longer than {timeout:?}")),
        };
        if spool::is_transient(&error) && spool.enabled() {
            tracing::warn!(error = %error, kind = ?error.kind(), "memori capture failed; spooling the exchange");
            if self.spool(spool::Batch::new(scope, keyed, Some(run)).waiting()) {
                Metrics::inc(&self.inner.metrics.spooled);
            }
        } else {
            Metrics::inc(&self.inner.metrics.capture_failures);
            tracing::error!(error = %error, kind = ?error.kind(), "memori capture failed; this exchange was not stored");
        }
        None
    }

    /// Put a batch in the spool; `false` (logged and counted) when it cannot take it.
    fn spool(&self, batch: spool::Batch) -> bool {
        match self.inner.spool.push(batch) {
            Ok(()) => true,
            Err(refused) => {
                Metrics::inc(&self.inner.metrics.spool_dropped);
                tracing::error!(reason = %refused, "memori cannot spool a capture; this exchange was not stored");
                false
            }
        }
    }

    /// Captures spooled while the database did not answer: batches and bytes.
    pub fn spool_usage(&self) -> (usize, usize) {
        self.inner.spool.usage()
    }
}
