//! The incremental recall index against a fresh build, through the real store on every
//! backend: one instance keeps its cached indexes and brings them up to date after each write
//! (captures augmented by the worker with merges and invalidations, operator corrections and
//! deletions, a retention run); a second instance, with no cache, builds the index from the
//! database for every recall. After every step both must return the same memories with
//! bit-identical scores.

use memori_rig::{Memori, Message, RecallRequest, Scope, Validity};
use memori_tests::backend_test;

use crate::instance;

/// A fresh index on every recall: the reference.
async fn uncached(url: &str) -> anyhow::Result<Memori> {
    Ok(Memori::builder()
        .database_url(url)
        .embedder(memori_rig::embed::HashEmbedder::default())
        .configure(|c| {
            c.workers = 0;
            c.recall_cache_bytes = 0;
            c.settings_refresh = std::time::Duration::ZERO;
        })
        .build()
        .await?)
}

const SAID: [&str; 12] = [
    "I live in Lisbon.",
    "I moved to Porto.",
    "I love jazz and long walks.",
    "I'm allergic to shellfish.",
    "I don't eat pork.",
    "My sister Ana lives in Rome.",
    "I work at a bakery.",
    "We talked about the weather again.",
    "I love jazz!",
    "I moved back to Lisbon.",
    "I play the piano on Sundays.",
    "Nothing much happened today.",
];

const ASKED: [&str; 5] = ["where do I live?", "jazz", "what can't I eat?", "piano sundays", "bakery work"];

async fn same_answers(cached: &Memori, fresh: &Memori, scope: &Scope, step: usize) -> anyhow::Result<()> {
    for q in ASKED {
        for history in [false, true] {
            let req = || {
                let r = RecallRequest::new(q).limit(12);
                if history { r.with_history() } else { r }
            };
            let a = cached.recall_with(&scope.entity, req()).await?.memories;
            let b = fresh.recall_with(&scope.entity, req()).await?.memories;
            let key = |r: &[memori_rig::Recalled]| -> Vec<(i64, u64, String, Vec<String>)> {
                r.iter()
                    .map(|x| {
                        let n = x.neighbours.iter().map(|n| n.text.clone()).collect();
                        (x.memory.id, x.score.to_bits(), x.memory.text.clone(), n)
                    })
                    .collect()
            };
            anyhow::ensure!(
                key(&a) == key(&b),
                "step {step}, {q:?} (history {history}):\n  cached {:?}\n  fresh  {:?}",
                key(&a),
                key(&b)
            );
        }
    }
    Ok(())
}

backend_test!(an_index_kept_up_to_date_ranks_like_a_fresh_one, |url: String| async move {
    let cached = instance(&url, 1).await?;
    let fresh = uncached(&url).await?;
    let scope = Scope::new("mara", "bot", "s1")?;
    let mut seed = 11u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")?.with_timezone(&chrono::Utc);
    for step in 0..30 {
        match next() % 6 {
            0..=2 => {
                let said = SAID[next() % SAID.len()];
                let when = at + chrono::Duration::days(step as i64);
                let session = Scope::new("mara", "bot", format!("s{}", step / 5))?;
                cached.capture(&session, vec![Message::user(said).said_at(when), Message::assistant("Noted.")]).await?;
                cached.flush().await?;
            }
            3 => {
                let all = cached.memories(&scope.entity, Validity::All).await?;
                if let Some(m) = all.iter().filter(|m| m.kind != memori_rig::MemoryKind::Episode).nth(next() % 3) {
                    let patch = memori_rig::admin::MemoryPatch {
                        text: Some(format!("{} (checked {step})", m.text)),
                        ..Default::default()
                    };
                    cached.update_memory(m.id, patch, "ops").await?;
                }
            }
            4 => {
                let all = cached.memories(&scope.entity, Validity::All).await?;
                if !all.is_empty() {
                    cached.delete_memory(all[next() % all.len()].id, "ops").await?;
                }
            }
            _ => {}
        }
        same_answers(&cached, &fresh, &scope, step).await?;
    }
    // A retention run deletes old messages and memories: the cached index rebuilds.
    let mut settings = cached.settings().await?.1;
    settings.retention.days = Some(3650);
    cached.save_settings(None, &settings, "ops").await?;
    cached.apply_retention("ops").await?;
    same_answers(&cached, &fresh, &scope, 99).await?;
    let m = cached.metrics().snapshot();
    anyhow::ensure!(m.recall_index_updates > 10, "the index was kept up to date, not rebuilt: {m:?}");
    cached.shutdown().await;
    fresh.shutdown().await;
    Ok(())
});
