//! Scale-out: two `memori worker` processes on one PostgreSQL database share the job queue
//! without running a job twice, and settings saved by one process are used by another.
//!
//! Uses the real local model (the worker's default embedder) and PostgreSQL from
//! `MEMORI_TEST_POSTGRES_URL` (both required under `cargo xtask test`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use memori_rig::embed::HashEmbedder;
use memori_rig::{EntityId, Memori, Message, Scope};
use memori_tests::{Backend, run_on};

/// Child processes killed when the test ends, whatever happens.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn_worker(url: &str) -> std::io::Result<Child> {
    Command::new(env!("CARGO_BIN_EXE_memori"))
        .args(["worker", "--workers", "2", "--lease-secs", "30"])
        .env("MEMORI_DATABASE_URL", url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

const ENTITIES: usize = 30;
const BATCHES: usize = 5;

async fn two_processes(url: String) -> anyhow::Result<()> {
    // This process only captures (no workers); the two worker processes augment.
    let producer = Memori::builder()
        .database_url(&url)
        .embedder(HashEmbedder::default())
        .configure(|c| c.workers = 0)
        .build()
        .await?;
    let mut workers = Workers(vec![spawn_worker(&url)?, spawn_worker(&url)?]);
    for e in 0..ENTITIES {
        let scope = Scope::new(format!("user-{e}"), "bot", "s1")?;
        for b in 0..BATCHES {
            producer
                .capture(&scope, vec![Message::user(format!("I live in City{e}x{b}")), Message::assistant("Noted.")])
                .await?;
        }
    }
    producer.flush_timeout(Duration::from_secs(300)).await?;

    let jobs = memori_tests::job_claims(&url).await?;
    assert_eq!(jobs.len(), ENTITIES * BATCHES, "one job per capture");
    let pids: Vec<String> = workers.0.iter().map(|c| c.id().to_string()).collect();
    let mut per_process = [0usize; 2];
    for (id, status, attempts, locked_by) in &jobs {
        assert_eq!((status.as_str(), *attempts), ("done", 1), "job {id} ran once and succeeded");
        let pid = locked_by.as_deref().and_then(|w| w.split('-').next()).unwrap_or_default();
        let i = pids.iter().position(|p| p == pid).unwrap_or_else(|| panic!("job {id} done by {locked_by:?}"));
        per_process[i] += 1;
    }
    assert!(per_process.iter().all(|n| *n > 0), "both processes worked: {per_process:?}");
    for e in 0..ENTITIES {
        let stats = producer.stats(&EntityId::new(format!("user-{e}"))?).await?;
        assert_eq!(stats.messages, (2 * BATCHES) as u64);
    }

    // Settings saved here are used by a recall in another process.
    let recall = |query: &str| -> anyhow::Result<String> {
        let out = Command::new(env!("CARGO_BIN_EXE_memori"))
            .args(["recall", "--json", "--entity", "user-3", query])
            .env("MEMORI_DATABASE_URL", &url)
            .output()?;
        anyhow::ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    assert!(recall("where does user-3 live")?.contains("City3x"), "found before the change");
    let (version, mut settings) = producer.settings().await?;
    settings.recall.min_score = 10.0;
    producer.save_settings(Some(version), &settings, "test").await?;
    assert_eq!(recall("where does user-3 live")?, "[]", "the other process applies the saved min_score");

    for child in &mut workers.0 {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    }
    for child in &mut workers.0 {
        let status = child.wait()?;
        assert!(status.success(), "a worker stops cleanly on SIGTERM: {status}");
    }
    workers.0.clear();
    producer.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_one_postgres_queue() {
    if !memori_tests::model_available() {
        return;
    }
    run_on(Backend::Postgres, two_processes).await;
}
