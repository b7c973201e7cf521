//! What recall reads: an entity's memories with their embeddings and sources (to build an
//! index), and what changed since a memory revision (to bring an index up to date).
//!
//! Every writer of recall data stamps the rows it writes with the entity's new revision
//! (`revision` on memories and graph edges, set through [`super::EntityWrite`]) and leaves a
//! tombstone for a memory it deletes, so the changes since revision `r` are the rows stamped
//! after `r` and the tombstones after `r`. A tombstone without a memory id (a retention run)
//! means too much changed to list: rebuild.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entity::{embeddings, kg_edges, kg_nodes, memories, memory_sources, memory_tombstones, messages};
use super::entity::{processes, sessions};
use super::{Db, EntityRow, IN_LIST, db_err, from_ms};
use crate::error::Result;
use crate::graph::{Edge, Node};
use crate::model::{Memory, MemoryKind, SourceRef, Validity};

/// A memory with its embedding (if any) for the given model.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) memory: Memory,
    pub(crate) vector: Option<Vec<f32>>,
}

/// Which of an entity's memories to load.
enum Rows<'a> {
    /// All of them (with their embeddings and sources read by entity, one query each).
    All,
    /// These rows (embeddings and sources read by their ids).
    These(&'a [memories::Model]),
}

/// The memories of one entity, oldest first, with embeddings from `model` and source
/// references: the current ones, or every memory ever stored with [`Validity::All`].
pub(crate) async fn candidates(db: &Db, entity: EntityRow, model: &str, validity: Validity) -> Result<Vec<Candidate>> {
    let mut q = memories::Entity::find().filter(memories::Column::EntityId.eq(entity.0));
    if !validity.includes_invalidated() {
        q = q.filter(memories::Column::InvalidatedAt.is_null());
    }
    let rows = q.order_by_asc(memories::Column::Id).all(db).await.map_err(db_err("cannot read memories"))?;
    let scope = if validity.includes_invalidated() { Rows::All } else { Rows::These(&rows) };
    let (vectors, sources) = match scope {
        Rows::All => (vectors_by_entity(db, entity, model).await?, sources_by(db, entity, None).await?),
        Rows::These(rows) => {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            (super::memories::vectors_of(db, &ids, model).await?, sources_by(db, entity, Some(&ids)).await?)
        }
    };
    assemble(db, rows, vectors, sources).await
}

/// What changed in an entity's recall data since `revision`.
pub(crate) enum Changes {
    /// Too much to list (a retention run): read everything again.
    Rebuild,
    /// Memories written since (new or changed, with their current embedding), memories
    /// deleted since, graph edges written since and the nodes they touch.
    Delta { memories: Vec<Candidate>, deleted: Vec<i64>, nodes: Vec<Node>, edges: Vec<Edge> },
}

/// What changed in an entity's recall data after `revision` (see the module doc).
pub(crate) async fn changes_since(db: &Db, entity: EntityRow, model: &str, revision: i64) -> Result<Changes> {
    let tombstones: Vec<Option<i64>> = memory_tombstones::Entity::find()
        .select_only()
        .column(memory_tombstones::Column::MemoryId)
        .filter(memory_tombstones::Column::EntityId.eq(entity.0))
        .filter(memory_tombstones::Column::Revision.gt(revision))
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read deleted memories"))?;
    if tombstones.iter().any(Option::is_none) {
        return Ok(Changes::Rebuild);
    }
    let rows = memories::Entity::find()
        .filter(memories::Column::EntityId.eq(entity.0))
        .filter(memories::Column::Revision.gt(revision))
        .order_by_asc(memories::Column::Id)
        .all(db)
        .await
        .map_err(db_err("cannot read changed memories"))?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let vectors = super::memories::vectors_of(db, &ids, model).await?;
    let sources = sources_by(db, entity, Some(&ids)).await?;
    let memories = assemble(db, rows, vectors, sources).await?;

    let edges: Vec<Edge> = kg_edges::Entity::find()
        .filter(kg_edges::Column::EntityId.eq(entity.0))
        .filter(kg_edges::Column::Revision.gt(revision))
        .all(db)
        .await
        .map_err(db_err("cannot read changed graph edges"))?
        .into_iter()
        .map(edge)
        .collect();
    let mut node_ids: Vec<i64> = edges.iter().flat_map(|e| [e.source, e.target]).collect();
    node_ids.sort_unstable();
    node_ids.dedup();
    let mut nodes = Vec::with_capacity(node_ids.len());
    for chunk in node_ids.chunks(IN_LIST) {
        nodes.extend(
            kg_nodes::Entity::find()
                .filter(kg_nodes::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await
                .map_err(db_err("cannot read graph nodes"))?
                .into_iter()
                .map(|n| Node { id: n.id, name: n.name, node_type: n.node_type }),
        );
    }
    Ok(Changes::Delta { memories, deleted: tombstones.into_iter().flatten().collect(), nodes, edges })
}

/// A graph edge row as the graph holds it.
pub(crate) fn edge(e: kg_edges::Model) -> Edge {
    Edge {
        id: e.id,
        source: e.source_id,
        target: e.target_id,
        predicate: e.predicate,
        memory_id: e.memory_id,
        valid_from: from_ms(e.valid_from),
        invalidated_at: e.invalidated_at.map(from_ms),
    }
}

async fn vectors_by_entity(db: &Db, entity: EntityRow, model: &str) -> Result<HashMap<i64, Vec<f32>>> {
    Ok(embeddings::Entity::find()
        .select_only()
        .columns([embeddings::Column::MemoryId, embeddings::Column::Vector])
        .filter(embeddings::Column::EntityId.eq(entity.0))
        .filter(embeddings::Column::Model.eq(model))
        .into_tuple::<(i64, Vec<u8>)>()
        .all(db)
        .await
        .map_err(db_err("cannot read embeddings"))?
        .into_iter()
        .map(|(id, bytes)| (id, super::decode_vector(&bytes)))
        .collect())
}

/// Source references of an entity's memories (only of `memory_ids` when given), by memory.
async fn sources_by(db: &Db, entity: EntityRow, memory_ids: Option<&[i64]>) -> Result<HashMap<i64, Vec<SourceRef>>> {
    let query = |only: Option<&[i64]>| {
        let mut cond = Condition::all().add(memory_sources::Column::EntityId.eq(entity.0));
        if let Some(ids) = only {
            cond = cond.add(memory_sources::Column::MemoryId.is_in(ids.iter().copied()));
        }
        memory_sources::Entity::find()
            .select_only()
            .column(memory_sources::Column::MemoryId)
            .column(memory_sources::Column::MessageId)
            .column_as(messages::Column::ExternalId, "external_id")
            .column_as(messages::Column::Fingerprint, "fingerprint")
            .join(
                sea_orm::JoinType::InnerJoin,
                memory_sources::Entity::belongs_to(messages::Entity)
                    .from(memory_sources::Column::MessageId)
                    .to(messages::Column::Id)
                    .into(),
            )
            .filter(cond)
            .order_by_asc(memory_sources::Column::MessageId)
            .into_tuple::<(i64, i64, Option<String>, String)>()
    };
    let mut rows = Vec::new();
    match memory_ids {
        None => rows = query(None).all(db).await.map_err(db_err("cannot read memory sources"))?,
        Some(ids) => {
            for chunk in ids.chunks(IN_LIST) {
                rows.extend(query(Some(chunk)).all(db).await.map_err(db_err("cannot read memory sources"))?);
            }
            rows.sort_by_key(|r| r.1);
        }
    }
    let mut sources: HashMap<i64, Vec<SourceRef>> = HashMap::new();
    for (memory_id, message_id, external_id, fingerprint) in rows {
        sources.entry(memory_id).or_default().push(SourceRef { message_id, external_id, fingerprint });
    }
    Ok(sources)
}

/// Memory rows with their vectors, sources and session and process names.
async fn assemble(
    db: &Db,
    rows: Vec<memories::Model>,
    vectors: HashMap<i64, Vec<f32>>,
    mut sources: HashMap<i64, Vec<SourceRef>>,
) -> Result<Vec<Candidate>> {
    let session_names = super::external_ids::<sessions::Entity, _>(
        db,
        (sessions::Column::Id, sessions::Column::ExternalId),
        rows.iter().filter_map(|r| r.session_id),
    )
    .await?;
    let process_names = super::external_ids::<processes::Entity, _>(
        db,
        (processes::Column::Id, processes::Column::ExternalId),
        rows.iter().filter_map(|r| r.process_id),
    )
    .await?;
    let mut vectors = vectors;
    Ok(rows
        .into_iter()
        .map(|r| Candidate {
            vector: vectors.remove(&r.id),
            memory: Memory {
                id: r.id,
                kind: MemoryKind::parse(&r.kind).unwrap_or(MemoryKind::Fact),
                text: r.text,
                importance: r.importance,
                confidence: r.confidence,
                mention_count: r.mention_count,
                created_at: from_ms(r.created_at),
                last_seen_at: from_ms(r.last_seen_at),
                valid_from: from_ms(r.valid_from),
                referred_at: r.referred_at.map(from_ms),
                invalidated_at: r.invalidated_at.map(from_ms),
                invalidated_by: r.invalidated_by,
                session: r.session_id.and_then(|s| session_names.get(&s).cloned()),
                process: r.process_id.and_then(|p| process_names.get(&p).cloned()),
                sources: sources.remove(&r.id).unwrap_or_default(),
            },
        })
        .collect())
}
