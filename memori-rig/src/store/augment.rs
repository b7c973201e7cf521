//! Writing extractions: memories with their sources, embeddings, graph triples and
//! invalidations, in one transaction per capture.
//!
//! Replays are safe: memories and nodes are found by their keys, sources and embeddings are
//! inserted unless present, mention counts are recounted from the sources, and invalidations
//! set the same values again.

use std::collections::HashMap;

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use super::entity::{kg_edges, kg_nodes, memories, memory_sources, sessions};
use super::graph::node_names;
use super::memories::{EmbeddingRow, MEMORY_KEY, insert_embedding, link_source};
use super::{Db, EntityRow, EntityWrite, NewMemory, SessionRow, db_err};
use crate::augment::Triple;
use crate::augment::merge::{self, Statement, TripleKey};
use crate::error::{Error, Result};
use crate::model::MemoryKind;

/// Longest node name stored (the column holds 255 bytes).
const MAX_NAME_BYTES: usize = 200;

/// An extracted memory ready to write: `memory.dedup_key` is its own key, or the key of the
/// memory it merges into.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pub(crate) memory: NewMemory,
    pub(crate) vector: Option<Vec<f32>>,
    pub(crate) triple: Option<Triple>,
}

/// What [`apply`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    /// New memory rows.
    pub(crate) inserted: usize,
    /// Existing memories that gained a mention.
    pub(crate) reinforced: usize,
    /// Memories invalidated by a contradicting statement (new or old).
    pub(crate) invalidated: usize,
}

/// The entity's live extracted memories (not episodes) as merge decisions see them.
pub(crate) async fn live_statements(db: &Db, entity: EntityRow, model: &str) -> Result<Vec<Statement>> {
    let rows: Vec<(i64, String, String, String)> = memories::Entity::find()
        .select_only()
        .columns([memories::Column::Id, memories::Column::DedupKey, memories::Column::Kind, memories::Column::Text])
        .filter(memories::Column::EntityId.eq(entity.0))
        .filter(memories::Column::InvalidatedAt.is_null())
        .filter(memories::Column::Kind.ne(MemoryKind::Episode.as_str()))
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read memories"))?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut vectors = super::memories::vectors_of(db, &ids, model).await?;
    let mut triples = HashMap::new();
    let nodes = node_names(db, entity, None).await?;
    let edges: Vec<(Option<i64>, i64, String, i64)> = kg_edges::Entity::find()
        .select_only()
        .columns([kg_edges::Column::MemoryId, kg_edges::Column::SourceId])
        .columns([kg_edges::Column::Predicate, kg_edges::Column::TargetId])
        .filter(kg_edges::Column::EntityId.eq(entity.0))
        .filter(kg_edges::Column::InvalidatedAt.is_null())
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read graph edges"))?;
    for (memory, source, predicate, target) in edges {
        if let (Some(m), Some(s), Some(t)) = (memory, nodes.get(&source), nodes.get(&target)) {
            triples.insert(m, TripleKey { subject: s.clone(), predicate, object: t.clone() });
        }
    }
    Ok(rows
        .into_iter()
        .map(|(id, key, kind, text)| Statement {
            key,
            kind: MemoryKind::parse(&kind).unwrap_or(MemoryKind::Fact),
            text,
            vector: vectors.remove(&id),
            triple: triples.remove(&id),
        })
        .collect())
}

/// Write one capture's extraction, and its sessions' summaries, in one transaction.
pub(crate) async fn apply(
    db: &Db,
    model: &str,
    items: &[Planned],
    summaries: &[(SessionRow, String)],
    now: i64,
) -> Result<Applied> {
    let w = EntityWrite::begin(db, items.iter().map(|i| i.memory.entity), "cannot begin extraction write").await?;
    let mut applied = Applied::default();
    for item in items {
        let (row, inserted) = resolve_memory(&w, &item.memory, now).await?;
        let new_sources = add_sources(&w, row.id, &item.memory).await?;
        if inserted {
            applied.inserted += 1;
        } else if new_sources > 0 {
            applied.reinforced += 1;
        }
        if !inserted {
            reinforce(&w, &row, &item.memory).await?;
        }
        if let Some(vector) = &item.vector {
            let embedding =
                EmbeddingRow { memory_id: row.id, entity: EntityRow(row.entity_id), vector: vector.clone() };
            insert_embedding(&w, &embedding, model, now).await?;
        }
        if let Some(triple) = &item.triple {
            applied.invalidated += add_triple(&w, &row, triple, now).await?;
        }
        w.mark_memories(item.memory.entity, &[row.id]).await?;
    }
    for (session, text) in summaries {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::Summary, sea_orm::sea_query::Expr::value(text.as_str()))
            .filter(sessions::Column::Id.eq(session.0))
            .exec(w.txn())
            .await
            .map_err(db_err("cannot store session summary"))?;
    }
    w.commit("cannot commit extraction").await?;
    Ok(applied)
}

/// Find the row a planned memory goes to, or insert it. A key whose row was invalidated is
/// reused only by a replay of a message that already backs it; a statement made again after
/// its invalidation ("back in Paris") gets a new row under `key#2`, `key#3`... so history
/// keeps both periods.
async fn resolve_memory(w: &EntityWrite, m: &NewMemory, now: i64) -> Result<(memories::Model, bool)> {
    let db = w.txn();
    for epoch in 1..=64 {
        let key = if epoch == 1 { m.dedup_key.clone() } else { format!("{}#{epoch}", m.dedup_key) };
        let existing = memories::Entity::find()
            .filter(memories::Column::EntityId.eq(m.entity.0))
            .filter(memories::Column::DedupKey.eq(&key))
            .one(db)
            .await
            .map_err(db_err("cannot read memory"))?;
        match existing {
            Some(row) if row.invalidated_at.is_none() => return Ok((row, false)),
            Some(row) => {
                let replay = memory_sources::Entity::find()
                    .filter(memory_sources::Column::MemoryId.eq(row.id))
                    .filter(memory_sources::Column::MessageId.is_in(m.source_message_ids.iter().copied()))
                    .count(db)
                    .await
                    .map_err(db_err("cannot read memory sources"))?;
                if replay > 0 {
                    return Ok((row, false));
                }
            }
            None => {
                // Another worker may insert the same key at the same moment: insert unless
                // present, then read back. A row without sources yet is one just created.
                let row = m.row(&key, 0, now, w.revision(m.entity)?);
                super::insert_unless_present(db, row, &MEMORY_KEY, "cannot store memory").await?;
                // A locking read sees a row another transaction committed after this one's
                // snapshot (MySQL's REPEATABLE READ); SQLite has one writer and ignores it.
                let row = memories::Entity::find()
                    .filter(memories::Column::EntityId.eq(m.entity.0))
                    .filter(memories::Column::DedupKey.eq(&key))
                    .lock_exclusive()
                    .one(db)
                    .await
                    .map_err(db_err("cannot read memory"))?
                    .ok_or_else(|| Error::new(crate::ErrorKind::Database, "memory row vanished after insert"))?;
                let fresh = row.mention_count == 0;
                return Ok((row, fresh));
            }
        }
    }
    Err(Error::new(crate::ErrorKind::Database, format!("memory {:?} was re-stated more than 64 times", m.dedup_key)))
}

/// Link the memory to its source messages; returns how many links are new.
async fn add_sources(w: &EntityWrite, memory_id: i64, m: &NewMemory) -> Result<u64> {
    // Read first: the write lock on the entity orders this against any other writer of its links.
    let have: Vec<i64> = memory_sources::Entity::find()
        .select_only()
        .column(memory_sources::Column::MessageId)
        .filter(memory_sources::Column::MemoryId.eq(memory_id))
        .filter(memory_sources::Column::MessageId.is_in(m.source_message_ids.iter().copied()))
        .into_tuple()
        .all(w.txn())
        .await
        .map_err(db_err("cannot read memory sources"))?;
    let mut added = 0;
    for &message_id in m.source_message_ids.iter().filter(|id| !have.contains(id)) {
        link_source(w, memory_id, message_id, m.entity).await?;
        added += 1;
    }
    if added > 0 {
        // An increment, not a recount: concurrent transactions adding links to the same memory
        // each see only their own, but row locks serialise increments. Replays add no link.
        memories::Entity::update_many()
            .col_expr(
                memories::Column::MentionCount,
                sea_orm::sea_query::ExprTrait::add(
                    sea_orm::sea_query::Expr::col(memories::Column::MentionCount),
                    i32::try_from(added).unwrap_or(i32::MAX),
                ),
            )
            .filter(memories::Column::Id.eq(memory_id))
            .exec(w.txn())
            .await
            .map_err(db_err("cannot update mention count"))?;
    }
    Ok(added)
}

/// A stored memory said again: later last-seen time, higher importance if the new one is.
async fn reinforce(w: &EntityWrite, row: &memories::Model, m: &NewMemory) -> Result<()> {
    if m.valid_from <= row.last_seen_at && m.importance <= row.importance {
        return Ok(());
    }
    memories::Entity::update_many()
        .col_expr(memories::Column::LastSeenAt, sea_orm::sea_query::Expr::value(row.last_seen_at.max(m.valid_from)))
        .col_expr(memories::Column::Importance, sea_orm::sea_query::Expr::value(row.importance.max(m.importance)))
        .filter(memories::Column::Id.eq(row.id))
        .exec(w.txn())
        .await
        .map_err(db_err("cannot update memory"))?;
    Ok(())
}

fn clip(s: &str) -> &str {
    let s = s.trim();
    if s.len() <= MAX_NAME_BYTES {
        return s;
    }
    let cut = (0..=MAX_NAME_BYTES).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    &s[..cut]
}

/// The node for `(name, type)` of the entity, created if missing.
async fn node(w: &EntityWrite, entity: EntityRow, name: &str, node_type: &str, now: i64) -> Result<i64> {
    let name = clip(name);
    let normalized = clip(&merge::normalize_name(name)).to_owned();
    let node_type = clip(node_type).chars().take(64).collect::<String>().to_lowercase();
    let row = kg_nodes::ActiveModel {
        id: NotSet,
        entity_id: Set(entity.0),
        name: Set(name.to_owned()),
        normalized: Set(normalized.clone()),
        node_type: Set(node_type.clone()),
        created_at: Set(now),
    };
    let key = [kg_nodes::Column::EntityId, kg_nodes::Column::Normalized, kg_nodes::Column::NodeType];
    super::insert_unless_present(w.txn(), row, &key, "cannot store graph node").await?;
    kg_nodes::Entity::find()
        .select_only()
        .column(kg_nodes::Column::Id)
        .filter(kg_nodes::Column::EntityId.eq(entity.0))
        .filter(kg_nodes::Column::Normalized.eq(normalized))
        .filter(kg_nodes::Column::NodeType.eq(node_type))
        .lock_exclusive()
        .into_tuple()
        .one(w.txn())
        .await
        .map_err(db_err("cannot read graph node"))?
        .ok_or_else(|| Error::new(crate::ErrorKind::Database, "graph node vanished after insert"))
}

/// Store the memory's triple as an edge and settle contradictions with the subject's other
/// live edges: the older statement of each contradicting pair is invalidated as of the newer
/// one's time. Returns how many memories were invalidated.
async fn add_triple(w: &EntityWrite, row: &memories::Model, t: &Triple, now: i64) -> Result<usize> {
    let entity = EntityRow(row.entity_id);
    let subject = node(w, entity, &t.subject, &t.subject_type, now).await?;
    let object = node(w, entity, &t.object, &t.object_type, now).await?;
    let predicate: String = clip(&t.predicate.trim().to_lowercase()).to_owned();
    let key = format!("m{}:{subject}:{object}", row.id);
    let edge = kg_edges::ActiveModel {
        id: NotSet,
        entity_id: Set(row.entity_id),
        source_id: Set(subject),
        target_id: Set(object),
        predicate: Set(predicate),
        memory_id: Set(Some(row.id)),
        valid_from: Set(row.valid_from),
        invalidated_at: Set(row.invalidated_at),
        created_at: Set(now),
        dedup_key: Set(key),
        revision: Set(w.revision(entity)?),
    };
    let key = [kg_edges::Column::EntityId, kg_edges::Column::DedupKey];
    super::insert_unless_present(w.txn(), edge, &key, "cannot store graph edge").await?;
    if row.invalidated_at.is_some() {
        return Ok(0);
    }

    let others: Vec<kg_edges::Model> = kg_edges::Entity::find()
        .filter(kg_edges::Column::EntityId.eq(row.entity_id))
        .filter(kg_edges::Column::SourceId.eq(subject))
        .filter(kg_edges::Column::InvalidatedAt.is_null())
        .filter(kg_edges::Column::MemoryId.ne(row.id))
        .all(w.txn())
        .await
        .map_err(db_err("cannot read graph edges"))?;
    if others.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = others.iter().map(|e| e.target_id).chain([subject]).collect();
    let names = node_names(w.txn(), entity, Some(&ids)).await?;
    let subject_name = names.get(&subject).cloned().unwrap_or_default();
    let mut invalidated = 0;
    for edge in others {
        let Some(old_memory) = edge.memory_id else { continue };
        let old = TripleKey {
            subject: subject_name.clone(),
            predicate: edge.predicate.clone(),
            object: names.get(&edge.target_id).cloned().unwrap_or_default(),
        };
        if !merge::contradicts(t, &old) {
            continue;
        }
        if edge.valid_from <= row.valid_from {
            invalidate(w, entity, old_memory, row.valid_from, row.id).await?;
            invalidated += 1;
        } else {
            // The stored statement is newer (histories can be imported out of order).
            invalidate(w, entity, row.id, edge.valid_from, old_memory).await?;
            return Ok(invalidated + 1);
        }
    }
    Ok(invalidated)
}

/// Mark a memory and its edges invalid from `at`, because of memory `by`.
async fn invalidate(w: &EntityWrite, entity: EntityRow, memory_id: i64, at: i64, by: i64) -> Result<()> {
    let db = w.txn();
    let revision = w.revision(entity)?;
    use sea_orm::sea_query::Expr;
    memories::Entity::update_many()
        .col_expr(memories::Column::InvalidatedAt, Expr::value(at))
        .col_expr(memories::Column::InvalidatedBy, Expr::value(by))
        .col_expr(memories::Column::Revision, Expr::value(revision))
        .filter(memories::Column::Id.eq(memory_id))
        .exec(db)
        .await
        .map_err(db_err("cannot invalidate memory"))?;
    kg_edges::Entity::update_many()
        .col_expr(kg_edges::Column::InvalidatedAt, Expr::value(at))
        .col_expr(kg_edges::Column::Revision, Expr::value(revision))
        .filter(kg_edges::Column::MemoryId.eq(memory_id))
        .exec(db)
        .await
        .map_err(db_err("cannot invalidate graph edge"))?;
    Ok(())
}
