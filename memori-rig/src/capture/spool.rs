//! The capture spool: agent-call exchanges waiting to be written, in order, within a byte
//! limit. With [`crate::CaptureMode::Background`] every exchange waits here for the writer
//! (the drain task, which stores up to [`GROUP`] of them per transaction); with `Inline`, only
//! those the database did not take. Either way a batch the database cannot take now waits,
//! with backoff, until it answers.
//!
//! Only the agent path spools ([`crate::Memori::capture_logged`], which the rig hook uses); a
//! direct [`crate::Memori::capture`] returns its error to the caller, who decides. Every
//! spooled message keeps its idempotency key, so a batch whose first attempt did commit (a
//! timeout after the commit) stores nothing twice when it is written again. While anything is
//! spooled, new captures queue behind it, so a session's messages keep their order.
//!
//! The spool lives in memory unless [`crate::Config::spool_dir`] is set: then each batch is also
//! a file, written before the agent call returns and removed once the batch is stored, and a
//! process started later with the same directory writes what an earlier one left behind.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::metrics::Metrics;
use crate::model::Message;
use crate::scope::Scope;
use crate::signals::Signals;
use crate::store::{self, Db};

/// One spooled capture: the scope, the keyed messages and the run they came from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Batch {
    entity: String,
    process: String,
    session: String,
    messages: Vec<(Message, String)>,
    run_id: Option<String>,
    /// Position in the spool (the file name when spooled to a directory).
    #[serde(skip)]
    seq: u64,
    /// Size counted against the limit: the batch's JSON length.
    #[serde(skip)]
    bytes: usize,
    /// It waited for the database (counted in `spooled` once).
    #[serde(skip)]
    waited: bool,
}

impl Batch {
    pub(crate) fn new(scope: &Scope, messages: Vec<(Message, String)>, run_id: Option<String>) -> Self {
        Self {
            entity: scope.entity.as_str().to_owned(),
            process: scope.process.as_str().to_owned(),
            session: scope.session.as_str().to_owned(),
            messages,
            run_id,
            seq: 0,
            bytes: 0,
            waited: false,
        }
    }

    /// A batch that waits because the database did not take it.
    pub(crate) fn waiting(mut self) -> Self {
        self.waited = true;
        self
    }

    fn scope(&self) -> Result<Scope> {
        Scope::new(self.entity.as_str(), self.process.as_str(), self.session.as_str())
    }
}

/// Why a batch was not spooled.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The spool holds `limit` bytes already (or the batch alone is larger).
    Full { limit: usize },
    /// The spool directory could not be written.
    Io(std::io::Error),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Full { limit } => write!(f, "the capture spool is full ({limit} bytes)"),
            Refused::Io(e) => write!(f, "cannot write to the spool directory: {e}"),
        }
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<Batch>,
    bytes: usize,
    next_seq: u64,
}

/// A bounded FIFO of batches waiting for the database.
pub(crate) struct Spool {
    state: Mutex<State>,
    limit: usize,
    dir: Option<PathBuf>,
    /// Signalled when a batch is spooled (a stored permit, so no signal is missed).
    wake: tokio::sync::Notify,
    /// The last write failed because the database did not answer.
    failing: std::sync::atomic::AtomicBool,
}

impl Spool {
    /// A spool of at most `limit` bytes, kept in `dir` if given. Batches an earlier process
    /// left in `dir` are loaded (they count against the limit but are never refused); a file
    /// that does not parse is renamed to `*.bad` and reported, never deleted.
    pub(crate) fn open(limit: usize, dir: Option<PathBuf>) -> Result<Self> {
        let mut state = State::default();
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
            let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
                .map_err(|e| io_error(dir, &e))?
                .filter_map(|e| {
                    let path = e.ok()?.path();
                    let seq =
                        path.extension().filter(|x| *x == "json").and(path.file_stem())?.to_str()?.parse().ok()?;
                    Some((seq, path))
                })
                .collect();
            files.sort();
            for (seq, path) in files {
                let text = std::fs::read(&path).map_err(|e| io_error(&path, &e))?;
                match serde_json::from_slice::<Batch>(&text) {
                    Ok(mut batch) => {
                        batch.seq = seq;
                        batch.bytes = text.len();
                        batch.waited = true;
                        state.bytes += batch.bytes;
                        state.queue.push_back(batch);
                    }
                    Err(e) => {
                        let bad = path.with_extension("bad");
                        tracing::error!(file = %path.display(), error = %e, "a spooled capture does not parse; renamed to *.bad");
                        std::fs::rename(&path, &bad).map_err(|e| io_error(&path, &e))?;
                    }
                }
                state.next_seq = state.next_seq.max(seq + 1);
            }
            if !state.queue.is_empty() {
                tracing::info!(batches = state.queue.len(), "captures spooled by an earlier process will be written");
            }
        }
        Ok(Self {
            state: Mutex::new(state),
            limit,
            dir,
            wake: tokio::sync::Notify::new(),
            failing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Add a batch at the end.
    pub(crate) fn push(&self, mut batch: Batch) -> std::result::Result<(), Refused> {
        let json = serde_json::to_vec(&batch).map_err(|e| Refused::Io(std::io::Error::other(e)))?;
        batch.bytes = json.len();
        {
            let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if state.bytes + batch.bytes > self.limit {
                return Err(Refused::Full { limit: self.limit });
            }
            batch.seq = state.next_seq;
            if let Some(dir) = &self.dir {
                // Write, then rename: a crash leaves either no file or a whole one.
                let tmp = dir.join(format!("{:020}.tmp", batch.seq));
                std::fs::write(&tmp, &json)
                    .and_then(|()| std::fs::rename(&tmp, dir.join(format!("{:020}.json", batch.seq))))
                    .map_err(Refused::Io)?;
            }
            state.next_seq += 1;
            state.bytes += batch.bytes;
            state.queue.push_back(batch);
        }
        self.wake.notify_one();
        Ok(())
    }

    /// The oldest `n` batches, still spooled.
    fn front(&self, n: usize) -> Vec<Batch> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).queue.iter().take(n).cloned().collect()
    }

    /// Mark every spooled batch as waiting for the database; returns how many were not yet.
    fn mark_waiting(&self) -> usize {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.queue.iter_mut().filter(|b| !b.waited).map(|b| b.waited = true).count()
    }

    /// Whether the database is not answering the writer right now.
    pub(crate) fn is_failing(&self) -> bool {
        self.failing.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set_failing(&self, failing: bool) {
        self.failing.store(failing, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether captures can wait here at all (a limit of 0 turns the spool off).
    pub(crate) fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Remove the oldest batch (`seq`), written or given up.
    fn pop(&self, seq: u64) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.queue.front().is_some_and(|b| b.seq == seq) {
            let batch = state.queue.pop_front().expect("front exists");
            state.bytes -= batch.bytes;
            if let Some(dir) = &self.dir {
                let path = dir.join(format!("{seq:020}.json"));
                if let Err(e) = std::fs::remove_file(&path) {
                    // Written already: a replay later stores nothing twice (idempotency keys).
                    tracing::warn!(file = %path.display(), error = %e, "cannot remove a written spool file");
                }
            }
        }
    }

    /// Batches and bytes spooled.
    pub(crate) fn usage(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (state.queue.len(), state.bytes)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.usage().0 == 0
    }

    /// Whether batches survive the process.
    pub(crate) fn is_durable(&self) -> bool {
        self.dir.is_some()
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("capture spool {}: {e}", path.display()))
}

/// Whether a failed write may succeed later (the database is down or slow), as opposed to a
/// batch the database will never take.
pub(crate) fn is_transient(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Database | ErrorKind::Timeout | ErrorKind::Closed)
}

const FIRST_RETRY: Duration = Duration::from_millis(200);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// What the drain task needs: the spool, the database and the limits of a capture.
pub(crate) struct Drain {
    pub(crate) spool: Arc<Spool>,
    pub(crate) db: Db,
    pub(crate) signals: Arc<Signals>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) capture_timeout: Duration,
    pub(crate) max_attempts: i32,
}

/// Most batches written per transaction.
pub(crate) const GROUP: usize = 32;

/// Write the batches; their receipts in order, or the error of the group (nothing written).
async fn write(d: &Drain, batches: &[Batch]) -> Result<Vec<crate::model::CaptureReceipt>> {
    let mut group = Vec::with_capacity(batches.len());
    for b in batches {
        group.push((b.scope()?, super::validate(b.messages.clone(), b.run_id.as_deref())?));
    }
    match tokio::time::timeout(d.capture_timeout, store::capture::capture_all(&d.db, group, d.max_attempts)).await {
        Ok(r) => r,
        Err(_) => Err(Error::new(ErrorKind::Timeout, "writing spooled captures timed out")),
    }
}

/// Write spooled batches in order, several per transaction, waiting with backoff while the
/// database does not answer. On shutdown it writes what it can within one capture timeout,
/// then stops.
pub(crate) async fn drain(d: Drain) {
    let mut delay = FIRST_RETRY;
    let mut failing = false;
    loop {
        let shutting_down = d.signals.shutdown.is_cancelled();
        let batches = d.spool.front(if failing { 1 } else { GROUP });
        if batches.is_empty() {
            if shutting_down {
                break;
            }
            tokio::select! {
                () = d.spool.wake.notified() => continue,
                () = d.signals.shutdown.cancelled() => continue,
            }
        }
        let result = write(&d, &batches).await;
        match result {
            Ok(receipts) => {
                for b in &batches {
                    d.spool.pop(b.seq);
                    if b.waited {
                        Metrics::inc(&d.metrics.spool_written);
                    }
                }
                if receipts.iter().any(|r| r.job_id.is_some()) {
                    d.signals.wake.notify_waiters();
                }
                if failing {
                    let (left, _) = d.spool.usage();
                    tracing::info!(left, "the database answers again; writing spooled captures");
                }
                failing = false;
                d.spool.set_failing(false);
                delay = FIRST_RETRY;
            }
            Err(e) if is_transient(&e) => {
                d.spool.set_failing(true);
                Metrics::add(&d.metrics.spooled, d.spool.mark_waiting() as u64);
                if !failing {
                    tracing::warn!(error = %e, "the database does not answer; captures stay spooled until it does");
                }
                failing = true;
                if shutting_down {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = d.signals.shutdown.cancelled() => {}
                }
                delay = (delay * 2).min(LAST_RETRY);
            }
            Err(e) if batches.len() > 1 => {
                // One batch of the group is refused: write them one at a time to find it.
                tracing::debug!(error = %e, "a group of captures was refused; writing them one by one");
                failing = true;
            }
            Err(e) => {
                d.spool.pop(batches[0].seq);
                Metrics::inc(&d.metrics.spool_dropped);
                tracing::error!(error = %e, kind = ?e.kind(), "a spooled capture was refused by the database and dropped");
                failing = false;
            }
        }
    }
    let (left, bytes) = d.spool.usage();
    if left > 0 && d.spool.is_durable() {
        tracing::warn!(batches = left, bytes, "shut down with captures spooled; the next start writes them");
    } else if left > 0 {
        tracing::error!(
            batches = left,
            bytes,
            "shut down with captures spooled in memory; they are lost (set Config::spool_dir to keep them)"
        );
    }
}
