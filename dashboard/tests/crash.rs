//! Crash safety: a `memori worker` process is SIGKILLed after writing a batch's memories and
//! embeddings but before marking its jobs done (failpoint `worker-before-complete`). A new
//! worker takes the jobs over when their lease expires; every turn ends up augmented exactly
//! once, with no duplicate memory or embedding.
//!
//! Failpoints exist only in builds with the `failpoints` feature, which `cargo xtask test`
//! turns on. Without it the test cannot run; under `MEMORI_TEST_REQUIRE_ALL_BACKENDS=1` (CI)
//! that fails it instead of passing silently.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use memori_rig::embed::HashEmbedder;
use memori_rig::{EntityId, Memori, Message, Scope};

fn worker(url: &str, failpoints: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_memori"))
        .args(["--database-url", url, "worker", "--workers", "1", "--lease-secs", "2"])
        .env("MEMORI_FAILPOINTS", failpoints)
        .spawn()
        .expect("start memori worker")
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_loses_nothing_and_duplicates_nothing() -> anyhow::Result<()> {
    if !cfg!(feature = "failpoints") {
        assert!(
            std::env::var("MEMORI_TEST_REQUIRE_ALL_BACKENDS").is_err(),
            "the crash test needs the `failpoints` feature: cargo test -p memori-dashboard --features failpoints"
        );
        eprintln!("note: skipping the crash test: build with --features failpoints");
        return Ok(());
    }
    if !memori_tests::model_available() {
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("memori-crash-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("m.db").display());
    // This process only captures and observes: no workers of its own.
    let memori = Memori::builder()
        .database_url(&url)
        .embedder(HashEmbedder::default())
        .configure(|c| c.workers = 0)
        .build()
        .await?;
    let entity = EntityId::new("crash-test")?;
    for session in 0..5 {
        let scope = Scope::new("crash-test", "bot", format!("s{session}"))?;
        let turns = (0..8)
            .map(|i| Message::user(format!("I like topic {}. (session {session}, turn {i})", session * 8 + i)))
            .collect();
        memori.capture(&scope, turns).await?;
    }

    let mut first = Killed(worker(&url, "worker-before-complete"));
    let deadline = Instant::now() + Duration::from_secs(90);
    // Each turn makes an episode and an extracted preference ("User likes topic N").
    while memori.stats(&entity).await?.embeddings < 80 {
        assert!(Instant::now() < deadline, "the first worker never reached the failpoint");
        assert!(first.0.try_wait()?.is_none(), "the first worker exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(memori.jobs(Some(memori_rig::JobStatus::Running), 100).await?.len(), 5, "written, but not finished");
    first.0.kill()?; // SIGKILL
    first.0.wait()?;

    let _second = Killed(worker(&url, ""));
    memori.flush_timeout(Duration::from_secs(90)).await?;
    let stats = memori.stats(&entity).await?;
    assert_eq!((stats.messages, stats.memories, stats.embeddings), (40, 80, 80), "exactly once: {stats:?}");
    let memories = memori.memories(&entity, memori_rig::Validity::All).await?;
    assert!(
        memories.iter().all(|m| m.mention_count == 1 && m.sources.len() == 1 && m.invalidated_at.is_none()),
        "the rerun added no mention and invalidated nothing: {memories:?}"
    );
    let done = memori.jobs(Some(memori_rig::JobStatus::Done), 100).await?;
    assert_eq!(done.len(), 5);
    assert!(done.iter().all(|j| j.attempts == 2), "each job was taken over once: {done:?}");
    memori.shutdown().await;
    drop(_second);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
