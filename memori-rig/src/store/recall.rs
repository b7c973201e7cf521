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

/// The memories of one entity, oldest first, with embeddings from `model` and source
/// references: the current ones, or every memory ever stored with [`Validity::All`].
pub(crate) async fn candidates(db: &Db, entity: EntityRow, model: &str, validity: Validity) -> Result<Vec<Candidate>> {
    let ((rows, vectors), sources) =
        tokio::try_join!(memories_with_vectors(db, entity, model, validity, None), sources_by(db, entity, None))?;
    assemble(db, rows, vectors, sources).await
}

/// An entity's memory rows (by id) and their vectors from `model`, in one pass: one
/// row per memory with its embedding joined, read by column position. (A large entity's index
/// build is dominated by decoding rows; this halves the rows and skips the name lookups.)
async fn memories_with_vectors(
    db: &Db,
    entity: EntityRow,
    model: &str,
    validity: Validity,
    since: Option<i64>,
) -> Result<(Vec<memories::Model>, HashMap<i64, Vec<f32>>)> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    use sea_orm::{ConnectionTrait, Iterable};
    let mut select = Query::select();
    for c in memories::Column::iter() {
        select.column((memories::Entity, c));
    }
    select
        .column((embeddings::Entity, embeddings::Column::Vector))
        .from(memories::Entity)
        .left_join(
            embeddings::Entity,
            Condition::all()
                .add(
                    Expr::col((embeddings::Entity, embeddings::Column::MemoryId))
                        .equals((memories::Entity, memories::Column::Id)),
                )
                .add(Expr::col((embeddings::Entity, embeddings::Column::Model)).eq(model)),
        )
        .and_where(Expr::col((memories::Entity, memories::Column::EntityId)).eq(entity.0));
    if !validity.includes_invalidated() {
        select.and_where(Expr::col((memories::Entity, memories::Column::InvalidatedAt)).is_null());
    }
    if let Some(revision) = since {
        select.and_where(Expr::col((memories::Entity, memories::Column::Revision)).gt(revision));
    }
    let rows = db.query_all(&select).await.map_err(db_err("cannot read memories"))?;
    let n = memories::Column::iter().count();
    let mut models = Vec::with_capacity(rows.len());
    let mut vectors = HashMap::with_capacity(rows.len());
    for row in rows {
        let m = memories::Model::from_row_by_index(&row).map_err(db_err("cannot read a memory row"))?;
        let vector: Option<Vec<u8>> = row.try_get_by_index(n).map_err(db_err("cannot read an embedding"))?;
        if let Some(bytes) = vector {
            vectors.insert(m.id, super::decode_vector(&bytes));
        }
        models.push(m);
    }
    // Sorted here: an ORDER BY makes SQLite sort the joined rows, vectors and all, on disk.
    models.sort_unstable_by_key(|m| m.id);
    Ok((models, vectors))
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
    // A recall waits for this: the reads that do not depend on each other go out together.
    let tombstones = async {
        memory_tombstones::Entity::find()
            .select_only()
            .column(memory_tombstones::Column::MemoryId)
            .filter(memory_tombstones::Column::EntityId.eq(entity.0))
            .filter(memory_tombstones::Column::Revision.gt(revision))
            .into_tuple::<Option<i64>>()
            .all(db)
            .await
            .map_err(db_err("cannot read deleted memories"))
    };
    let edges = async {
        kg_edges::Entity::find()
            .filter(kg_edges::Column::EntityId.eq(entity.0))
            .filter(kg_edges::Column::Revision.gt(revision))
            .all(db)
            .await
            .map_err(db_err("cannot read changed graph edges"))
    };
    let (tombstones, (rows, vectors), edges) =
        tokio::try_join!(tombstones, memories_with_vectors(db, entity, model, Validity::All, Some(revision)), edges)?;
    if tombstones.iter().any(Option::is_none) {
        return Ok(Changes::Rebuild);
    }
    let edges: Vec<Edge> = edges.into_iter().map(edge).collect();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut node_ids: Vec<i64> = edges.iter().flat_map(|e| [e.source, e.target]).collect();
    node_ids.sort_unstable();
    node_ids.dedup();
    let nodes = async {
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
        Ok(nodes)
    };
    let sources = async { if ids.is_empty() { Ok(HashMap::new()) } else { sources_by(db, entity, Some(&ids)).await } };
    let (sources, nodes) = tokio::try_join!(sources, nodes)?;
    let memories = assemble(db, rows, vectors, sources).await?;
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
/// Memories from their rows, with session and process names and sources (no vectors): for
/// pages that read a few.
pub(crate) async fn memories_from_rows(db: &Db, entity: EntityRow, rows: Vec<memories::Model>) -> Result<Vec<Memory>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let sources = sources_by(db, entity, Some(&ids)).await?;
    Ok(assemble(db, rows, HashMap::new(), sources).await?.into_iter().map(|c| c.memory).collect())
}

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
    );
    let process_names = super::external_ids::<processes::Entity, _>(
        db,
        (processes::Column::Id, processes::Column::ExternalId),
        rows.iter().filter_map(|r| r.process_id),
    );
    let (session_names, process_names) = tokio::try_join!(session_names, process_names)?;
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
