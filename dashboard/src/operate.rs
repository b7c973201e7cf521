//! Scripted operator work from a shell: list entities, export or erase one, print totals.
//!
//! What these commands do is what the dashboard does, through the same `Memori` calls, so the
//! audit log records them the same way. The actor is the operating-system user (`os:NAME`):
//! whoever can run `memori` against the database already holds its credentials.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context, bail};
use memori_rig::{EntityId, Memori};

/// The audit actor for commands run from a shell.
pub(crate) fn actor() -> String {
    let name = ["USER", "LOGNAME"].iter().find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()));
    format!("os:{}", name.as_deref().unwrap_or("unknown"))
}

/// `memori entities`: every entity (or those whose id contains `search`), most recently seen
/// first.
pub(crate) async fn entities(memori: &Memori, search: Option<&str>, json: bool) -> anyhow::Result<()> {
    const PAGE: u64 = 500;
    let mut all = Vec::new();
    loop {
        let page = memori.list_entities(search, all.len() as u64, PAGE).await?;
        let done = page.items.len() < PAGE as usize;
        all.extend(page.items);
        if done {
            break;
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    if all.is_empty() {
        eprintln!("no entities{}", search.map(|q| format!(" whose id contains {q:?}")).unwrap_or_default());
        return Ok(());
    }
    println!("{:<32} {:>8} {:>9} {:>9}  last seen", "entity", "sessions", "messages", "memories");
    for e in &all {
        println!(
            "{:<32} {:>8} {:>9} {:>9}  {}",
            e.id,
            e.sessions,
            e.messages,
            e.memories,
            e.last_seen_at.format("%Y-%m-%d %H:%M")
        );
    }
    Ok(())
}

/// `memori export`: everything stored about an entity as JSON, to `out` (created with
/// owner-only permissions, never overwriting) or standard output. Audited as `entity.export`.
pub(crate) async fn export(memori: &Memori, entity: &str, out: Option<&Path>) -> anyhow::Result<()> {
    let entity = EntityId::new(entity)?;
    if let Some(path) = out
        && path.exists()
    {
        bail!("{} exists; choose another --out (an export is never written over a file)", path.display());
    }
    let export = memori.export_entity(&entity, &actor()).await?;
    let json = serde_json::to_vec_pretty(&export)?;
    match out {
        None => std::io::stdout().write_all(&json)?,
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
            file.write_all(&json)?;
            file.sync_all()?;
            eprintln!(
                "exported {} messages and {} memories of {:?} to {} ({} bytes)",
                export.messages.len(),
                export.memories.len(),
                entity.as_str(),
                path.display(),
                json.len()
            );
        }
    }
    Ok(())
}

/// `memori erase`: erase an entity after the operator types its id again (unless `yes`), then
/// print the receipt. `input` is where the confirmation is read from (standard input).
pub(crate) async fn erase(
    memori: &Memori,
    entity: &str,
    reference: Option<&str>,
    yes: bool,
    input: &mut dyn BufRead,
) -> anyhow::Result<()> {
    let id = EntityId::new(entity)?;
    if !memori.has_entity(&id).await? {
        bail!("no entity {entity:?}; nothing was erased");
    }
    let stats = memori.stats(&id).await?;
    if !yes {
        eprint!(
            "This erases entity {entity:?} for good: {} messages and {} memories, with their sessions, graph and jobs.\n\
             Type the entity id to confirm: ",
            memori.message_count(&id).await?,
            stats.memories
        );
        std::io::stderr().flush()?;
        let mut typed = String::new();
        if input.read_line(&mut typed)? == 0 {
            bail!("no confirmation on standard input; nothing was erased (pass --yes to erase without asking)");
        }
        if typed.trim_end_matches(['\r', '\n']) != entity {
            bail!("the id typed does not match; nothing was erased");
        }
    }
    let receipt = memori.erase_entity(&id, &actor(), reference).await?;
    println!("{}", serde_json::to_string_pretty(&receipt)?);
    Ok(())
}

/// `memori stats`: totals and the augmentation queue.
pub(crate) async fn stats(memori: &Memori, json: bool) -> anyhow::Result<()> {
    let o = memori.overview().await?;
    if json {
        let j = &o.jobs;
        let v = serde_json::json!({
            "entities": o.entities, "sessions": o.sessions, "messages": o.messages,
            "memories": o.memories, "invalidated": o.invalidated, "graph_edges": o.graph_edges,
            "jobs": { "pending": j.pending, "running": j.running, "done": j.done, "dead": j.dead },
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("entities      {}", o.entities);
    println!("sessions      {}", o.sessions);
    println!("messages      {}", o.messages);
    println!("memories      {} current, {} invalidated", o.memories, o.invalidated);
    println!("graph edges   {}", o.graph_edges);
    let j = &o.jobs;
    println!("jobs          {} pending, {} running, {} done, {} dead", j.pending, j.running, j.done, j.dead);
    Ok(())
}
