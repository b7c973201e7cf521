//! Named failpoints for crash tests: points where a test can freeze a worker and kill it.
//!
//! `MEMORI_FAILPOINTS=name[,name...]` makes the process stop at those points forever (without
//! holding any database transaction), so that a test can SIGKILL it exactly there. Only builds
//! with the `failpoints` feature (the test builds `cargo xtask test` makes) read the variable;
//! in any other build [`hit`] is empty.

/// Between claiming a batch of jobs and running them.
pub(crate) const AFTER_CLAIM: &str = "worker-after-claim";
/// After a batch's memories and embeddings are written, before its jobs are marked done.
pub(crate) const BEFORE_COMPLETE: &str = "worker-before-complete";

#[cfg(feature = "failpoints")]
fn enabled() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        std::env::var("MEMORI_FAILPOINTS")
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    })
}

/// Stop here forever if the failpoint `name` is enabled.
#[cfg(feature = "failpoints")]
pub(crate) async fn hit(name: &str) {
    if enabled().iter().any(|n| n == name) {
        tracing::warn!(failpoint = name, "failpoint reached; this worker stops here until killed");
        std::future::pending::<()>().await;
    }
}

/// Failpoints are compiled out of this build.
#[cfg(not(feature = "failpoints"))]
pub(crate) async fn hit(_name: &str) {}
