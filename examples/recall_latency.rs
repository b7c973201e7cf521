//! Recall latency over an imported LoCoMo database, and a first look at retrieval quality.
//!
//! ```sh
//! memori --database-url "sqlite:///tmp/locomo.db?mode=rwc" import ../shared/data/locomo/locomo.jsonl
//! cargo run --release -p memori-examples --example recall_latency -- /tmp/locomo.db ../shared/data/locomo/locomo.jsonl
//! ```
//!
//! Asks every question of categories 1-4 as of the import (query embedding included) and prints
//! latency p50/p95/max and turn-level R@10 / Hit@10. The full evaluation (`memori eval`, per
//! category, NDCG, LongMemEval) comes with the recall work; this is the vertical slice's check.

use std::collections::HashSet;
use std::time::Instant;

use memori_rig::{EntityId, Memori, RecallRequest};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(data)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: recall_latency DB_PATH LOCOMO_JSONL");
    };
    let memori =
        Memori::builder().database_url(format!("sqlite://{db}?mode=rw")).configure(|c| c.workers = 0).build().await?;
    let conversations = memori_rig::import::read_file(std::path::Path::new(&data))?;
    let (mut latencies, mut recall_sum, mut hits, mut n) = (Vec::new(), 0.0, 0usize, 0usize);
    for conv in &conversations {
        let entity = EntityId::new(conv.id.as_str())?;
        for q in &conv.questions {
            let category = q.category.as_i64().unwrap_or(0);
            if !(1..=4).contains(&category) || q.evidence_turn_ids.is_empty() {
                continue;
            }
            let started = Instant::now();
            let recalled = memori.recall_with(&entity, RecallRequest::new(q.question.as_str()).limit(10)).await?;
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            let found: HashSet<&str> = recalled
                .iter()
                .flat_map(|r| r.memory.sources.iter().filter_map(|s| s.external_id.as_deref()))
                .collect();
            let got = q.evidence_turn_ids.iter().filter(|t| found.contains(t.as_str())).count();
            recall_sum += got as f64 / q.evidence_turn_ids.len() as f64;
            hits += usize::from(got > 0);
            n += 1;
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!("questions: {n}");
    println!("R@10 {:.3}  Hit@10 {:.3}", recall_sum / n as f64, hits as f64 / n as f64);
    println!("recall latency ms: p50 {:.1}  p95 {:.1}  max {:.1}", pct(0.5), pct(0.95), pct(1.0));
    memori.shutdown().await;
    Ok(())
}
