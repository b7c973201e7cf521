//! `memori bench`: recall latency at scale and capture overhead, on a fresh SQLite database;
//! `memori bench --live`: recall as an active user gets it, each recall right after a new
//! exchange was captured and augmented, against warm recalls with no writes in between.
//!
//! Memories are real rows written by the real pipeline (capture, worker, offline extraction),
//! but their stored vectors are synthetic: a bench embedder hashes document batches into 384
//! dimensions so that seeding 100,000 memories takes minutes instead of the better part of an
//! hour, while every *query* is embedded by the real MiniLM model, so its cost is in the
//! figures. The vector scan does the same work whatever the values are.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use memori_rig::embed::{Embedder, FastEmbedder, HashEmbedder};
use memori_rig::{EntityId, Memori, Message, RecallRequest, Scope};

use crate::progress::Progress;

/// Documents hashed, queries through the real model; one model id for both.
struct BenchEmbedder {
    real: FastEmbedder,
    hash: HashEmbedder,
}

#[async_trait]
impl Embedder for BenchEmbedder {
    fn model_id(&self) -> &str {
        "bench-hash384-docs-minilm-queries"
    }

    fn dimensions(&self) -> usize {
        384
    }

    async fn embed(&self, texts: Vec<String>) -> memori_rig::Result<Vec<Vec<f32>>> {
        if texts.len() == 1 && texts[0].starts_with("bench query:") {
            return self.real.embed(texts).await;
        }
        Ok(texts.iter().map(|t| self.hash.embed_one(t)).collect())
    }
}

/// Pseudo-English: words from syllables, drawn with a Zipf-like skew, so BM25 postings have
/// realistic lengths.
struct Words {
    vocab: Vec<String>,
    seed: u64,
}

impl Words {
    fn new() -> Self {
        const ONSETS: [&str; 12] = ["b", "c", "d", "f", "g", "h", "l", "m", "p", "r", "s", "t"];
        const VOWELS: [&str; 5] = ["a", "e", "i", "o", "u"];
        const CODAS: [&str; 6] = ["", "n", "r", "s", "t", "l"];
        let mut vocab = Vec::new();
        for o in ONSETS {
            for v in VOWELS {
                for c in CODAS {
                    for v2 in VOWELS {
                        vocab.push(format!("{o}{v}{c}{}{v2}", ONSETS[(vocab.len() * 7) % ONSETS.len()]));
                    }
                }
            }
        }
        Self { vocab, seed: 7 }
    }

    fn next(&mut self) -> u64 {
        self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.seed >> 33
    }

    fn sentence(&mut self, min: usize, max: usize) -> String {
        let n = min + (self.next() as usize % (max - min + 1));
        (0..n)
            .map(|_| {
                // Skewed: squaring a uniform draw favours the first words of the vocabulary.
                let u = (self.next() % 10_000) as f64 / 10_000.0;
                self.vocab[((u * u) * self.vocab.len() as f64) as usize].clone()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!("p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2} ms", pct(&v, 0.5), pct(&v, 0.95), pct(&v, 0.99), pct(&v, 1.0))
}

async fn open(dir: &std::path::Path, name: &str, embedder: Arc<dyn Embedder>) -> anyhow::Result<Memori> {
    let db = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    reopen(dir, name, embedder).await
}

/// Open a bench store as it is.
async fn reopen(dir: &std::path::Path, name: &str, embedder: Arc<dyn Embedder>) -> anyhow::Result<Memori> {
    let db = dir.join(format!("{name}.db"));
    Ok(Memori::builder()
        .database_url(format!("sqlite://{}?mode=rwc", db.display()))
        .shared_embedder(embedder)
        .configure(|c| c.workers = 2)
        .build()
        .await?)
}

/// Capture `messages` messages for an entity, 50 per session, then wait for augmentation.
/// `show` gives the sessions a progress bar.
async fn seed(memori: &Memori, words: &mut Words, entity: &str, messages: usize, show: bool) -> anyhow::Result<()> {
    let base = chrono::Utc::now() - chrono::Duration::days(400);
    let mut progress =
        show.then(|| Progress::new(&format!("sessions of {entity} stored"), messages.div_ceil(50) as u64));
    for (s, start) in (0..messages).step_by(50).enumerate() {
        let scope = Scope::new(entity, "bench", format!("s{s}"))?;
        let batch: Vec<(Message, String)> = (start..(start + 50).min(messages))
            .map(|i| {
                let text = words.sentence(6, 24);
                let at = base + chrono::Duration::minutes(i as i64 * 5);
                let m = if i % 2 == 0 { Message::user(text) } else { Message::assistant(text) };
                (m.said_at(at), format!("bench:{entity}:{i}"))
            })
            .collect();
        memori.capture_with_keys(&scope, batch, None).await?;
        if let Some(p) = &mut progress {
            p.step("");
        }
    }
    if let Some(p) = progress {
        p.finish();
    }
    memori.flush_timeout(Duration::from_secs(3 * 3600)).await?;
    Ok(())
}

async fn recall_latencies(
    memori: &Memori,
    words: &mut Words,
    entities: &[String],
    queries: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(queries);
    for i in 0..queries {
        let entity = EntityId::new(entities[i % entities.len()].as_str())?;
        let query = format!("bench query: {}", words.sentence(4, 10));
        let t = Instant::now();
        let r = memori.recall_with(&entity, RecallRequest::new(query)).await?;
        out.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(!r.memories.is_empty(), "recall found nothing; the bench store is broken");
    }
    Ok(out)
}

fn bench_embedder() -> anyhow::Result<Arc<dyn Embedder>> {
    let real =
        FastEmbedder::from_cache().context("the bench embeds queries with the local model; run `memori setup`")?;
    Ok(Arc::new(BenchEmbedder { real, hash: HashEmbedder::new(384) }))
}

/// Where the bench stores live: `MEMORI_BENCH_DIR` (kept afterwards, for a look with
/// `sqlite3`), else a temporary directory removed at the end.
fn bench_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = match std::env::var_os("MEMORI_BENCH_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("memori-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn remove_bench_dir(dir: &std::path::Path) {
    if std::env::var_os("MEMORI_BENCH_DIR").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn p95(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    pct(&v, 0.95)
}

/// `memori bench --live`: for each size, one entity seeded with that many messages; then
/// `queries` warm recalls (no writes in between), then `queries` rounds of what an active user
/// does: an agent call's exchange captured (the hook's path), augmented (`flush`), then recalled.
pub(crate) async fn run_live(sizes: &[usize], queries: usize) -> anyhow::Result<()> {
    let embedder = bench_embedder()?;
    let dir = bench_dir()?;
    let mut words = Words::new();
    println!("recall as an active user gets it: one entity, query embedding included (ms)");
    println!(
        "{:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9}",
        "messages", "memories", "cold", "warm p50", "warm p95", "live p50", "live p95", "live/warm", "capture", "index"
    );
    for &n in sizes {
        let memori = open(&dir, &format!("live-{n}"), Arc::clone(&embedder)).await?;
        seed(&memori, &mut words, "user-0", n, true).await?;
        memori.shutdown().await;
        drop(memori);
        // A fresh process's view: nothing cached, so the first recall builds the index.
        let memori = reopen(&dir, &format!("live-{n}"), Arc::clone(&embedder)).await?;
        let entity = EntityId::new("user-0")?;
        let one = ["user-0".to_string()];
        let t = Instant::now();
        recall_latencies(&memori, &mut words, &one, 1).await?;
        let cold = t.elapsed().as_secs_f64() * 1000.0;
        let warm = recall_latencies(&memori, &mut words, &one, queries).await?;
        let scope = Scope::new("user-0", "bench", "live")?;
        let (mut live, mut capture) = (Vec::with_capacity(queries), Vec::with_capacity(queries));
        for _ in 0..queries {
            let exchange = vec![Message::user(words.sentence(6, 20)), Message::assistant(words.sentence(10, 40))];
            let t = Instant::now();
            memori.capture_logged(&scope, exchange).await;
            capture.push(t.elapsed().as_secs_f64() * 1000.0);
            memori.flush().await?;
            live.extend(recall_latencies(&memori, &mut words, &one, 1).await?);
        }
        let memories = memori.stats(&entity).await?.memories;
        let (_, bytes) = memori.recall_cache_usage();
        let mut w = warm.clone();
        w.sort_by(f64::total_cmp);
        let mut l = live.clone();
        l.sort_by(f64::total_cmp);
        println!(
            "{n:>9} {memories:>9} {cold:>8.0} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.2}x {:>9.1} {:>6.0} MiB",
            pct(&w, 0.5),
            pct(&w, 0.95),
            pct(&l, 0.5),
            pct(&l, 0.95),
            pct(&l, 0.95) / pct(&w, 0.95).max(1e-9),
            p95(capture),
            bytes as f64 / 1048576.0
        );
        memori.shutdown().await;
    }
    println!("(capture: p95 of what the hook's capture adds to an agent call)");
    remove_bench_dir(&dir);
    Ok(())
}

pub(crate) async fn run(sizes: &[usize], entities: usize, per_entity: usize, queries: usize) -> anyhow::Result<()> {
    let embedder = bench_embedder()?;
    let dir = bench_dir()?;
    let mut words = Words::new();

    println!("recall latency, one entity (query embedding included; warm = index cached)");
    for &n in sizes {
        let memori = open(&dir, &format!("one-{n}"), Arc::clone(&embedder)).await?;
        let t = Instant::now();
        seed(&memori, &mut words, "user-0", n, true).await?;
        let seeded = t.elapsed();
        let entity = EntityId::new("user-0")?;
        let stats = memori.stats(&entity).await?;
        let t = Instant::now();
        recall_latencies(&memori, &mut words, &["user-0".to_string()], 1).await?;
        let cold = t.elapsed().as_secs_f64() * 1000.0;
        let warm = recall_latencies(&memori, &mut words, &["user-0".to_string()], queries).await?;
        let (_, bytes) = memori.recall_cache_usage();
        println!(
            "  {n:>7} messages -> {:>7} memories (seeded in {:.0} s): cold {:.0} ms; warm {}; index {:.0} MiB",
            stats.memories,
            seeded.as_secs_f64(),
            cold,
            summary(warm),
            bytes as f64 / 1048576.0
        );
        memori.shutdown().await;
    }

    if entities > 0 {
        let memori = open(&dir, "many", Arc::clone(&embedder)).await?;
        let names: Vec<String> = (0..entities).map(|i| format!("user-{i}")).collect();
        let t = Instant::now();
        let mut progress = Progress::new("entities seeded", names.len() as u64);
        for name in &names {
            seed(&memori, &mut words, name, per_entity, false).await?;
            progress.step("");
        }
        progress.finish();
        let seeded = t.elapsed();
        let cold = recall_latencies(&memori, &mut words, &names, entities).await?;
        let warm = recall_latencies(&memori, &mut words, &names, queries.max(entities)).await?;
        println!(
            "{entities} entities x {per_entity} messages in one store (seeded in {:.0} s): first recall per entity {}; warm {}",
            seeded.as_secs_f64(),
            summary(cold),
            summary(warm)
        );

        // Capture overhead: what an agent call pays to store one exchange (the hook's path).
        let mut capture = Vec::new();
        for i in 0..queries {
            let scope = Scope::new(names[i % names.len()].as_str(), "bench", "live")?;
            let exchange = vec![Message::user(words.sentence(6, 20)), Message::assistant(words.sentence(10, 40))];
            let t = Instant::now();
            memori.capture_logged(&scope, exchange).await.context("capture failed")?;
            capture.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!("capture per agent call (2 messages, one transaction): {}", summary(capture));
        memori.shutdown().await;
    }
    remove_bench_dir(&dir);
    Ok(())
}
