//! Embedding throughput of the local model on LoCoMo turns, outside the job pipeline.
//!
//! `cargo run --release -p memori-examples --example embed_throughput -- LOCOMO.jsonl [BATCH]`, where
//! `LOCOMO.jsonl` is LoCoMo in the import format (see `memori_rig::import`).

use std::time::Instant;

use memori_rig::embed::FastEmbedder;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let data = args.next().ok_or_else(|| anyhow::anyhow!("usage: embed_throughput LOCOMO_JSONL [BATCH]"))?;
    let batch: usize = args.next().map_or(Ok(256), |b| b.parse())?;
    let conversations = memori_rig::import::read_file(std::path::Path::new(&data))?;
    let texts: Vec<String> = conversations
        .iter()
        .flat_map(|c| c.sessions.iter().flat_map(move |s| memori_rig::import::session_messages(c, s)))
        .filter_map(|(m, _)| m.episode_text())
        .collect();
    let embedder = FastEmbedder::from_cache()?;
    let started = Instant::now();
    for chunk in texts.chunks(batch) {
        embedder.embed_blocking(chunk)?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{} texts in {secs:.1} s: {:.0} texts/s (calls of {batch})", texts.len(), texts.len() as f64 / secs);
    Ok(())
}
