//! What the front door, the workers and the spool drain tell each other: new jobs were
//! written, a worker made progress, the process shuts down.

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Shared by a [`crate::Memori`], its workers and its spool drain.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    /// New jobs were written by this process: idle workers look now rather than at their
    /// next poll.
    pub(crate) wake: Notify,
    /// A worker finished a batch or found nothing to do: `flush` looks again.
    pub(crate) progress: Notify,
    /// Stop the background tasks.
    pub(crate) shutdown: CancellationToken,
}

impl Signals {
    /// Sleep for `d` unless shut down first.
    pub(crate) async fn sleep(&self, d: std::time::Duration) {
        tokio::select! {
            () = self.shutdown.cancelled() => {}
            () = tokio::time::sleep(d) => {}
        }
    }
}
