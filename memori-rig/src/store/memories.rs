//! Memories as recall and operators read them, episodes and embeddings as the worker writes
//! them, and operators' corrections.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use super::entity::{embeddings, memories, memory_sources, messages};
use super::{Db, EntityRow, EntityWrite, IN_LIST, ProcessRow, SessionRow, db_err, ms};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{EntityStats, MemoryKind};

/// A memory to write.
#[derive(Clone, Debug)]
pub(crate) struct NewMemory {
    pub(crate) entity: EntityRow,
    pub(crate) session: Option<SessionRow>,
    pub(crate) process: Option<ProcessRow>,
    pub(crate) kind: MemoryKind,
    pub(crate) text: String,
    pub(crate) importance: f64,
    pub(crate) confidence: f64,
    pub(crate) valid_from: i64,
    /// The time the memory is about, if it names one.
    pub(crate) referred_at: Option<i64>,
    pub(crate) dedup_key: String,
    pub(crate) source_message_ids: Vec<i64>,
}

impl NewMemory {
    /// The row for this memory under `key` with `mention_count` mentions, written at the
    /// entity's memory `revision`.
    pub(crate) fn row(&self, key: &str, mention_count: i32, now: i64, revision: i64) -> memories::ActiveModel {
        memories::ActiveModel {
            id: NotSet,
            entity_id: Set(self.entity.0),
            session_id: Set(self.session.map(|s| s.0)),
            process_id: Set(self.process.map(|p| p.0)),
            kind: Set(self.kind.as_str().to_owned()),
            text: Set(self.text.clone()),
            importance: Set(self.importance),
            confidence: Set(self.confidence),
            mention_count: Set(mention_count),
            created_at: Set(now),
            last_seen_at: Set(self.valid_from),
            valid_from: Set(self.valid_from),
            referred_at: Set(self.referred_at),
            invalidated_at: Set(None),
            invalidated_by: Set(None),
            dedup_key: Set(key.to_owned()),
            revision: Set(revision),
        }
    }
}

/// The key a memory row is unique by, within its entity.
pub(crate) const MEMORY_KEY: [memories::Column; 2] = [memories::Column::EntityId, memories::Column::DedupKey];
/// The key a source link is unique by.
pub(crate) const SOURCE_KEY: [memory_sources::Column; 2] =
    [memory_sources::Column::MemoryId, memory_sources::Column::MessageId];

/// Link a memory to a message unless linked.
pub(crate) async fn link_source(w: &EntityWrite, memory_id: i64, message_id: i64, entity: EntityRow) -> Result<()> {
    let row = memory_sources::ActiveModel {
        memory_id: Set(memory_id),
        message_id: Set(message_id),
        entity_id: Set(entity.0),
    };
    super::insert_unless_present(w.txn(), row, &SOURCE_KEY, "cannot store memory source").await
}

/// Insert memories that do not exist yet (by `dedup_key`), with their sources, in one
/// transaction. Running it twice changes nothing. Returns the ids of all given memories.
pub(crate) async fn upsert_memories(db: &Db, items: &[NewMemory]) -> Result<Vec<i64>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let w = EntityWrite::begin(db, items.iter().map(|m| m.entity), "cannot begin memory write").await?;
    let now = ms(Utc::now());
    let mut out = Vec::with_capacity(items.len());
    for m in items {
        let row = m.row(&m.dedup_key, 1, now, w.revision(m.entity)?);
        super::insert_unless_present(w.txn(), row, &MEMORY_KEY, "cannot store memory").await?;
        let id: i64 = memories::Entity::find()
            .select_only()
            .column(memories::Column::Id)
            .filter(memories::Column::EntityId.eq(m.entity.0))
            .filter(memories::Column::DedupKey.eq(&m.dedup_key))
            .into_tuple()
            .one(w.txn())
            .await
            .map_err(db_err("cannot read memory"))?
            .ok_or_else(|| Error::new(ErrorKind::Database, "memory row vanished after insert"))?;
        for &message_id in &m.source_message_ids {
            link_source(&w, id, message_id, m.entity).await?;
        }
        w.mark_memories(m.entity, &[id]).await?;
        out.push(id);
    }
    w.commit("cannot commit memories").await?;
    Ok(out)
}

/// A memory's text, to embed.
#[derive(Clone, Debug)]
pub(crate) struct MemoryText {
    pub(crate) id: i64,
    pub(crate) entity: EntityRow,
    pub(crate) text: String,
}

/// The embeddings from `model` of these memories, by memory id (memories without one are
/// missing from the map).
pub(crate) async fn vectors_of(db: &Db, memory_ids: &[i64], model: &str) -> Result<HashMap<i64, Vec<f32>>> {
    let mut out = HashMap::with_capacity(memory_ids.len());
    for chunk in memory_ids.chunks(IN_LIST) {
        let rows: Vec<(i64, Vec<u8>)> = embeddings::Entity::find()
            .select_only()
            .columns([embeddings::Column::MemoryId, embeddings::Column::Vector])
            .filter(embeddings::Column::MemoryId.is_in(chunk.iter().copied()))
            .filter(embeddings::Column::Model.eq(model))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err("cannot read embeddings"))?;
        out.extend(rows.into_iter().map(|(id, bytes)| (id, super::decode_vector(&bytes))));
    }
    Ok(out)
}

/// Of `memory_ids`, those with no embedding from `model` yet, with their text.
pub(crate) async fn missing_embeddings(db: &Db, memory_ids: &[i64], model: &str) -> Result<Vec<MemoryText>> {
    let have = vectors_of(db, memory_ids, model).await?;
    let mut out = Vec::new();
    for chunk in memory_ids.chunks(IN_LIST) {
        let rows: Vec<(i64, i64, String)> = memories::Entity::find()
            .select_only()
            .columns([memories::Column::Id, memories::Column::EntityId, memories::Column::Text])
            .filter(memories::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err("cannot read memories"))?;
        out.extend(rows.into_iter().filter(|(id, _, _)| !have.contains_key(id)).map(|(id, entity, text)| MemoryText {
            id,
            entity: EntityRow(entity),
            text,
        }));
    }
    Ok(out)
}

/// An embedding to store.
#[derive(Clone, Debug)]
pub(crate) struct EmbeddingRow {
    pub(crate) memory_id: i64,
    pub(crate) entity: EntityRow,
    pub(crate) vector: Vec<f32>,
}

/// Store embeddings (little-endian f32); an existing (memory, model) pair is left as is.
pub(crate) async fn insert_embeddings(db: &Db, model: &str, rows: &[EmbeddingRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let now = ms(Utc::now());
    let w = EntityWrite::begin(db, rows.iter().map(|r| r.entity), "cannot begin embedding write").await?;
    for r in rows {
        insert_embedding(&w, r, model, now).await?;
        w.mark_memories(r.entity, &[r.memory_id]).await?;
    }
    w.commit("cannot commit embeddings").await
}

/// Store one embedding unless the (memory, model) pair has one.
pub(crate) async fn insert_embedding(w: &EntityWrite, r: &EmbeddingRow, model: &str, now: i64) -> Result<()> {
    let row = embeddings::ActiveModel {
        memory_id: Set(r.memory_id),
        model: Set(model.to_owned()),
        entity_id: Set(r.entity.0),
        dim: Set(i32::try_from(r.vector.len()).unwrap_or(i32::MAX)),
        vector: Set(super::encode_vector(&r.vector)),
        created_at: Set(now),
    };
    let key = [embeddings::Column::MemoryId, embeddings::Column::Model];
    super::insert_unless_present(w.txn(), row, &key, "cannot store embedding").await?;
    Ok(())
}

/// Row counts of an entity's data (for receipts, tests and the CLI).
pub(crate) async fn entity_stats(db: &Db, entity: EntityRow) -> Result<EntityStats> {
    let count = "cannot count an entity's rows";
    Ok(EntityStats {
        messages: messages::Entity::find()
            .filter(messages::Column::EntityId.eq(entity.0))
            .count(db)
            .await
            .map_err(db_err(count))?,
        memories: memories::Entity::find()
            .filter(memories::Column::EntityId.eq(entity.0))
            .count(db)
            .await
            .map_err(db_err(count))?,
        embeddings: embeddings::Entity::find()
            .filter(embeddings::Column::EntityId.eq(entity.0))
            .count(db)
            .await
            .map_err(db_err(count))?,
    })
}

/// The entity (row, external id) a memory belongs to.
pub(crate) async fn memory_owner(db: &Db, memory_id: i64) -> Result<Option<(EntityRow, String)>> {
    let Some(entity): Option<i64> = memories::Entity::find()
        .select_only()
        .column(memories::Column::EntityId)
        .filter(memories::Column::Id.eq(memory_id))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read memory"))?
    else {
        return Ok(None);
    };
    let names = super::external_ids::<super::entity::entities::Entity, _>(
        db,
        (super::entity::entities::Column::Id, super::entity::entities::Column::ExternalId),
        [entity],
    )
    .await?;
    Ok(names.get(&entity).map(|name| (EntityRow(entity), name.clone())))
}

/// What an operator changed in a memory.
pub(crate) struct MemoryUpdate {
    pub(crate) text: Option<String>,
    pub(crate) kind: Option<MemoryKind>,
    pub(crate) importance: Option<f64>,
    /// The new text's embedding from `model`; the memory's other embeddings go.
    pub(crate) embedding: Option<(String, Vec<f32>)>,
}

/// Apply an operator's correction to a memory, audited with the names of the fields that
/// changed. `false` when the memory does not exist.
pub(crate) async fn update_memory(db: &Db, memory_id: i64, update: MemoryUpdate, actor: &str) -> Result<bool> {
    let txn = super::begin_write(db, "cannot begin memory update").await?;
    let Some(row) = memories::Entity::find_by_id(memory_id).one(&txn).await.map_err(db_err("cannot read memory"))?
    else {
        return Ok(false);
    };
    let w = EntityWrite::lock(txn, [EntityRow(row.entity_id)]).await?;
    let mut changed = Vec::new();
    let mut am = memories::ActiveModel { id: Set(memory_id), ..Default::default() };
    if let Some(text) = update.text.filter(|t| *t != row.text) {
        am.text = Set(text);
        // The corrected memory is the operator's statement: a later extraction of the old one
        // must not merge into it (and count as a mention of the new text).
        am.dedup_key = Set(format!("operator:{memory_id}"));
        changed.push("text");
    }
    if let Some(kind) = update.kind.filter(|k| k.as_str() != row.kind) {
        am.kind = Set(kind.as_str().to_owned());
        changed.push("kind");
    }
    if let Some(importance) = update.importance.filter(|i| *i != row.importance) {
        am.importance = Set(importance);
        changed.push("importance");
    }
    if !changed.is_empty() {
        memories::Entity::update(am).exec(w.txn()).await.map_err(db_err("cannot update memory"))?;
        w.mark_memories(EntityRow(row.entity_id), &[memory_id]).await?;
    }
    if let (Some((model, vector)), true) = (update.embedding, changed.contains(&"text")) {
        embeddings::Entity::delete_many()
            .filter(embeddings::Column::MemoryId.eq(memory_id))
            .exec(w.txn())
            .await
            .map_err(db_err("cannot replace the embedding"))?;
        let embedding = EmbeddingRow { memory_id, entity: EntityRow(row.entity_id), vector };
        insert_embedding(&w, &embedding, &model, ms(Utc::now())).await?;
    }
    // The audit record names the fields, never their values: a memory's text is personal data.
    super::audit::record(
        w.txn(),
        actor,
        "memory.update",
        "memory",
        Some(memory_id.to_string()),
        serde_json::json!({ "fields": changed }),
    )
    .await?;
    w.commit("cannot commit memory update").await?;
    Ok(true)
}

/// Delete one memory (its embeddings, sources and graph edges go with it), audited.
pub(crate) async fn delete_memory(db: &Db, memory_id: i64, actor: &str) -> Result<bool> {
    let txn = super::begin_write(db, "cannot begin memory delete").await?;
    let Some(entity): Option<i64> = memories::Entity::find()
        .select_only()
        .column(memories::Column::EntityId)
        .filter(memories::Column::Id.eq(memory_id))
        .into_tuple()
        .one(&txn)
        .await
        .map_err(db_err("cannot read memory"))?
    else {
        return Ok(false);
    };
    let w = EntityWrite::lock(txn, [EntityRow(entity)]).await?;
    memories::Entity::delete_by_id(memory_id).exec(w.txn()).await.map_err(db_err("cannot delete memory"))?;
    w.tombstone(EntityRow(entity), Some(memory_id)).await?;
    let target = Some(memory_id.to_string());
    super::audit::record(w.txn(), actor, "memory.delete", "memory", target, serde_json::json!({})).await?;
    w.commit("cannot commit memory delete").await?;
    Ok(true)
}
