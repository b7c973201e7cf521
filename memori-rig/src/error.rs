//! Errors: one [`Error`] type whose [`ErrorKind`] says what went wrong and what happens next.

use std::fmt;

/// Result alias used throughout memori-rig.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is. Each variant documents its consequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An entity, process or session id was empty, too long or held control characters.
    /// Nothing was read or written; fix the id.
    InvalidScope,
    /// An argument was out of range or malformed (a file line, a time, a limit).
    /// Nothing was written.
    InvalidInput,
    /// The requested row does not exist (or belongs to another entity).
    NotFound,
    /// The database failed or could not be reached. Writes in the failing call did not
    /// happen (each write is one transaction); retrying later is safe.
    Database,
    /// The embedding model failed. Captured messages are kept; their augmentation job is
    /// retried by the worker.
    Embedding,
    /// The extraction model failed (HTTP error, rate limit, timeout) or returned output that
    /// does not fit the schema. The augmentation job is retried with backoff and kept as a dead
    /// letter after its last attempt; captured messages are kept.
    Extraction,
    /// Model files or the ONNX Runtime library are missing or do not match their checksums.
    /// Run `memori setup` (see README).
    MissingModel,
    /// An operation did not finish in its time budget. Nothing it would have returned is lost:
    /// background work continues.
    Timeout,
    /// Memori was shut down; the call did nothing.
    Closed,
    /// Someone else changed the same thing first (for example settings saved on top of an
    /// older version). Nothing was written; reload and try again.
    Conflict,
    /// A bug in memori-rig: a task panicked or a lock was poisoned by one that did. The
    /// operation did not happen; the panic is in the log. Please report it.
    Internal,
}

/// An error from memori-rig.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error of `kind` with a message (no trailing period).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), source: None }
    }

    /// Attach the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message, without the cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same kind and message, for reporting one failure to several waiters (the cause is
    /// not cloneable and stays with the original).
    pub(crate) fn duplicate(&self) -> Self {
        Self::new(self.kind, self.message.clone())
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub(crate) fn database(context: &str, err: impl std::error::Error + Send + Sync + 'static) -> Self {
        // The cause is part of the message, so it is not also returned by `source()` (which
        // would make error reporters print it twice).
        Self::new(ErrorKind::Database, format!("{context}: {err}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}
