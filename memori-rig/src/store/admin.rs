//! Queries for operators: listing entities and sessions, transcripts, one memory with its
//! sources, corrections, counts, the audit log, erasure, export and retention.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::db_err;
use super::entity::{
    audit_log, embeddings, entities, jobs, kg_edges, kg_nodes, memories, memory_sources, messages, processes, sessions,
};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Part, Role};

/// One entity with the size of its data, for the entity list.
pub(crate) struct EntityRow {
    pub(crate) id: i64,
    pub(crate) external_id: String,
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
    pub(crate) sessions: u64,
    pub(crate) messages: u64,
    pub(crate) memories: u64,
}

/// `(entity_id, count)` for the given entities, from one grouped query on `E`.
async fn counts_by_entity<E, C>(
    db: &DatabaseConnection,
    entity_col: C,
    ids: &[i64],
    extra: sea_orm::Condition,
) -> Result<HashMap<i64, u64>>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let rows: Vec<(i64, i64)> = E::find()
        .select_only()
        .column(entity_col)
        .column_as(entity_col.count(), "n")
        .filter(entity_col.is_in(ids.iter().copied()))
        .filter(extra)
        .group_by(entity_col)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot count rows per entity"))?;
    Ok(rows.into_iter().map(|(id, n)| (id, n.max(0) as u64)).collect())
}

/// A page of entities whose id contains `search`, most recently active first, and how many
/// match in all.
pub(crate) async fn list_entities(
    db: &DatabaseConnection,
    search: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<EntityRow>, u64)> {
    let mut q = entities::Entity::find();
    if let Some(s) = search.filter(|s| !s.is_empty()) {
        q = q.filter(entities::Column::ExternalId.contains(s));
    }
    let total = q.clone().count(db).await.map_err(db_err("cannot count entities"))?;
    let page = q
        .order_by_desc(entities::Column::LastSeenAt)
        .order_by_asc(entities::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await
        .map_err(db_err("cannot list entities"))?;
    let rows = with_counts(db, page).await?;
    Ok((rows, total))
}

/// One entity's row by external id.
pub(crate) async fn entity(db: &DatabaseConnection, external_id: &str) -> Result<Option<EntityRow>> {
    let Some(e) = entities::Entity::find()
        .filter(entities::Column::ExternalId.eq(external_id))
        .one(db)
        .await
        .map_err(db_err("cannot read entity"))?
    else {
        return Ok(None);
    };
    Ok(with_counts(db, vec![e]).await?.pop())
}

/// Entity rows with their session, message and current-memory counts (three grouped queries).
async fn with_counts(db: &DatabaseConnection, page: Vec<entities::Model>) -> Result<Vec<EntityRow>> {
    let ids: Vec<i64> = page.iter().map(|e| e.id).collect();
    let all = sea_orm::Condition::all();
    let s = counts_by_entity::<sessions::Entity, _>(db, sessions::Column::EntityId, &ids, all.clone()).await?;
    let m = counts_by_entity::<messages::Entity, _>(db, messages::Column::EntityId, &ids, all).await?;
    let live = sea_orm::Condition::all().add(memories::Column::InvalidatedAt.is_null());
    let mem = counts_by_entity::<memories::Entity, _>(db, memories::Column::EntityId, &ids, live).await?;
    Ok(page
        .into_iter()
        .map(|e| EntityRow {
            sessions: s.get(&e.id).copied().unwrap_or(0),
            messages: m.get(&e.id).copied().unwrap_or(0),
            memories: mem.get(&e.id).copied().unwrap_or(0),
            id: e.id,
            external_id: e.external_id,
            created_at: e.created_at,
            last_seen_at: e.last_seen_at,
        })
        .collect())
}

/// A session of an entity with its process name and message count.
pub(crate) struct SessionRow {
    pub(crate) external_id: String,
    pub(crate) process: String,
    pub(crate) summary: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
    pub(crate) messages: u64,
}

/// The sessions of an entity, most recent first.
pub(crate) async fn sessions_of(db: &DatabaseConnection, entity_row: i64) -> Result<Vec<SessionRow>> {
    let rows = sessions::Entity::find()
        .filter(sessions::Column::EntityId.eq(entity_row))
        .order_by_desc(sessions::Column::LastSeenAt)
        .order_by_desc(sessions::Column::Id)
        .all(db)
        .await
        .map_err(db_err("cannot read sessions"))?;
    let names = process_names(db, rows.iter().map(|r| r.process_id)).await?;
    let counts: HashMap<i64, u64> = messages::Entity::find()
        .select_only()
        .column(messages::Column::SessionId)
        .column_as(messages::Column::Id.count(), "n")
        .filter(messages::Column::EntityId.eq(entity_row))
        .group_by(messages::Column::SessionId)
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await
        .map_err(db_err("cannot count messages"))?
        .into_iter()
        .map(|(s, n)| (s, n.max(0) as u64))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| SessionRow {
            messages: counts.get(&r.id).copied().unwrap_or(0),
            process: names.get(&r.process_id).cloned().unwrap_or_default(),
            external_id: r.external_id,
            summary: r.summary,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
        })
        .collect())
}

async fn process_names(db: &DatabaseConnection, ids: impl Iterator<Item = i64>) -> Result<HashMap<i64, String>> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(processes::Entity::find()
        .select_only()
        .columns([processes::Column::Id, processes::Column::ExternalId])
        .filter(processes::Column::Id.is_in(ids))
        .into_tuple::<(i64, String)>()
        .all(db)
        .await
        .map_err(db_err("cannot read processes"))?
        .into_iter()
        .collect())
}

/// A stored message as operators see it.
pub(crate) struct MessageRow {
    pub(crate) id: i64,
    pub(crate) session: String,
    pub(crate) process: String,
    pub(crate) role: Role,
    pub(crate) name: Option<String>,
    pub(crate) parts: Vec<Part>,
    pub(crate) text: String,
    pub(crate) position: i64,
    pub(crate) said_at: i64,
    pub(crate) external_id: Option<String>,
}

async fn message_rows(db: &DatabaseConnection, rows: Vec<messages::Model>) -> Result<Vec<MessageRow>> {
    let names = process_names(db, rows.iter().map(|r| r.process_id)).await?;
    let mut session_ids: Vec<i64> = rows.iter().map(|r| r.session_id).collect();
    session_ids.sort_unstable();
    session_ids.dedup();
    let sessions: HashMap<i64, String> = sessions::Entity::find()
        .select_only()
        .columns([sessions::Column::Id, sessions::Column::ExternalId])
        .filter(sessions::Column::Id.is_in(session_ids))
        .into_tuple::<(i64, String)>()
        .all(db)
        .await
        .map_err(db_err("cannot read sessions"))?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| MessageRow {
            // A row whose parts do not parse is still shown, by its stored text.
            parts: serde_json::from_str(&r.parts).unwrap_or_else(|_| vec![Part::Text { text: r.text.clone() }]),
            session: sessions.get(&r.session_id).cloned().unwrap_or_default(),
            process: names.get(&r.process_id).cloned().unwrap_or_default(),
            role: Role::parse(&r.role).unwrap_or(Role::User),
            id: r.id,
            name: r.name,
            text: r.text,
            position: r.position,
            said_at: r.said_at,
            external_id: r.external_id,
        })
        .collect())
}

/// The messages of one session of an entity, in the order they were said.
pub(crate) async fn transcript(
    db: &DatabaseConnection,
    entity_row: i64,
    session_external: &str,
) -> Result<Option<Vec<MessageRow>>> {
    let Some(session) = sessions::Entity::find()
        .filter(sessions::Column::EntityId.eq(entity_row))
        .filter(sessions::Column::ExternalId.eq(session_external))
        .one(db)
        .await
        .map_err(db_err("cannot read session"))?
    else {
        return Ok(None);
    };
    let rows = messages::Entity::find()
        .filter(messages::Column::SessionId.eq(session.id))
        .order_by_asc(messages::Column::SaidAt)
        .order_by_asc(messages::Column::Position)
        .order_by_asc(messages::Column::Id)
        .all(db)
        .await
        .map_err(db_err("cannot read messages"))?;
    Ok(Some(message_rows(db, rows).await?))
}

/// The source messages of a memory.
pub(crate) async fn sources_of(db: &DatabaseConnection, memory_id: i64) -> Result<Vec<MessageRow>> {
    let ids: Vec<i64> = memory_sources::Entity::find()
        .select_only()
        .column(memory_sources::Column::MessageId)
        .filter(memory_sources::Column::MemoryId.eq(memory_id))
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read memory sources"))?;
    let rows = messages::Entity::find()
        .filter(messages::Column::Id.is_in(ids))
        .order_by_asc(messages::Column::SaidAt)
        .order_by_asc(messages::Column::Id)
        .all(db)
        .await
        .map_err(db_err("cannot read messages"))?;
    message_rows(db, rows).await
}

/// The entity (row id, external id) a memory belongs to.
pub(crate) async fn memory_owner(db: &DatabaseConnection, memory_id: i64) -> Result<Option<(i64, String)>> {
    let Some(entity_row): Option<i64> = memories::Entity::find()
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
    let external: Option<String> = entities::Entity::find()
        .select_only()
        .column(entities::Column::ExternalId)
        .filter(entities::Column::Id.eq(entity_row))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read entity"))?;
    Ok(external.map(|e| (entity_row, e)))
}

/// Append one audit record in the caller's transaction.
pub(crate) async fn audit<C: ConnectionTrait>(
    db: &C,
    actor: &str,
    action: &str,
    target_kind: &str,
    target_ref: Option<String>,
    details: serde_json::Value,
) -> Result<i64> {
    let res = audit_log::Entity::insert(audit_log::ActiveModel {
        id: NotSet,
        at: Set(super::ms(chrono::Utc::now())),
        actor: Set(actor.chars().take(255).collect()),
        action: Set(action.to_owned()),
        target_kind: Set(target_kind.to_owned()),
        target_ref: Set(target_ref),
        details: Set(details.to_string()),
    })
    .exec(db)
    .await
    .map_err(db_err("cannot write the audit log"))?;
    Ok(res.last_insert_id)
}

/// What an operator changed in a memory.
pub(crate) struct MemoryUpdate {
    pub(crate) text: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) importance: Option<f64>,
    /// The new text's embedding, `(model, dim, bytes)`; old embeddings of the memory go.
    pub(crate) embedding: Option<(String, i32, Vec<u8>)>,
}

/// Apply an operator's correction to a memory, audited. `false` when it does not exist.
pub(crate) async fn update_memory(
    db: &DatabaseConnection,
    memory_id: i64,
    update: MemoryUpdate,
    actor: &str,
) -> Result<bool> {
    let txn = super::begin_write(db, "cannot begin memory update").await?;
    let Some(row) = memories::Entity::find_by_id(memory_id).one(&txn).await.map_err(db_err("cannot read memory"))?
    else {
        return Ok(false);
    };
    super::bump_revision(&txn, [row.entity_id]).await?;
    let mut changed = Vec::new();
    let mut am = memories::ActiveModel { id: Set(memory_id), ..Default::default() };
    if let Some(text) = update.text {
        am.text = Set(text);
        // The corrected memory is the operator's statement: a later extraction of the old one
        // must not merge into it (and count as a mention of the new text).
        am.dedup_key = Set(format!("operator:{memory_id}"));
        changed.push("text");
    }
    if let Some(kind) = update.kind {
        am.kind = Set(kind);
        changed.push("kind");
    }
    if let Some(importance) = update.importance {
        am.importance = Set(importance);
        changed.push("importance");
    }
    if !changed.is_empty() {
        memories::Entity::update(am).exec(&txn).await.map_err(db_err("cannot update memory"))?;
    }
    if let Some((model, dim, vector)) = update.embedding {
        embeddings::Entity::delete_many()
            .filter(embeddings::Column::MemoryId.eq(memory_id))
            .exec(&txn)
            .await
            .map_err(db_err("cannot replace the embedding"))?;
        embeddings::Entity::insert(embeddings::ActiveModel {
            memory_id: Set(memory_id),
            model: Set(model),
            entity_id: Set(row.entity_id),
            dim: Set(dim),
            vector: Set(vector),
            created_at: Set(super::ms(chrono::Utc::now())),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(db_err("cannot write the embedding"))?;
    }
    // The audit record names the fields, never their values: a memory's text is personal data.
    audit(
        &txn,
        actor,
        "memory.update",
        "memory",
        Some(memory_id.to_string()),
        serde_json::json!({ "fields": changed }),
    )
    .await?;
    txn.commit().await.map_err(db_err("cannot commit memory update"))?;
    Ok(true)
}

/// Delete one memory (its embeddings, sources and graph edges go with it), audited.
pub(crate) async fn delete_memory(db: &DatabaseConnection, memory_id: i64, actor: &str) -> Result<bool> {
    let txn = super::begin_write(db, "cannot begin memory delete").await?;
    let Some(row) = memories::Entity::find_by_id(memory_id).one(&txn).await.map_err(db_err("cannot read memory"))?
    else {
        return Ok(false);
    };
    super::bump_revision(&txn, [row.entity_id]).await?;
    memories::Entity::delete_by_id(memory_id).exec(&txn).await.map_err(db_err("cannot delete memory"))?;
    audit(&txn, actor, "memory.delete", "memory", Some(memory_id.to_string()), serde_json::json!({})).await?;
    txn.commit().await.map_err(db_err("cannot commit memory delete"))?;
    Ok(true)
}

/// The tables holding end-user data, each with its `entity_id` column, in the order an
/// erasure receipt lists them.
const ENTITY_TABLES: [&str; 8] = [
    "memori_sessions",
    "memori_messages",
    "memori_memories",
    "memori_memory_sources",
    "memori_embeddings",
    "memori_kg_nodes",
    "memori_kg_edges",
    "memori_jobs",
];

async fn count_of<E, C>(db: &C, col: impl ColumnTrait, entity_row: i64) -> Result<u64>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    PaginatorTrait::count(E::find().filter(col.eq(entity_row)), db)
        .await
        .map_err(db_err("cannot count an entity's rows"))
}

async fn count_rows<C: ConnectionTrait>(db: &C, entity_row: i64) -> Result<BTreeMap<String, u64>> {
    let counts = [
        count_of::<sessions::Entity, _>(db, sessions::Column::EntityId, entity_row).await?,
        count_of::<messages::Entity, _>(db, messages::Column::EntityId, entity_row).await?,
        count_of::<memories::Entity, _>(db, memories::Column::EntityId, entity_row).await?,
        count_of::<memory_sources::Entity, _>(db, memory_sources::Column::EntityId, entity_row).await?,
        count_of::<embeddings::Entity, _>(db, embeddings::Column::EntityId, entity_row).await?,
        count_of::<kg_nodes::Entity, _>(db, kg_nodes::Column::EntityId, entity_row).await?,
        count_of::<kg_edges::Entity, _>(db, kg_edges::Column::EntityId, entity_row).await?,
        count_of::<jobs::Entity, _>(db, jobs::Column::EntityId, entity_row).await?,
    ];
    Ok(ENTITY_TABLES.iter().map(|t| (*t).to_owned()).zip(counts).collect())
}

/// Erase an entity and everything it owns in one transaction; the audit record holds the
/// entity's row id (meaningless once the row is gone) and counts, never the external id.
/// Returns the audit record id and the counts removed per table, or `None` when unknown.
pub(crate) async fn erase_entity(
    db: &DatabaseConnection,
    external_id: &str,
    actor: &str,
) -> Result<Option<(i64, BTreeMap<String, u64>)>> {
    let txn = super::begin_write(db, "cannot begin erasure").await?;
    let Some(row): Option<i64> = entities::Entity::find()
        .select_only()
        .column(entities::Column::Id)
        .filter(entities::Column::ExternalId.eq(external_id))
        .into_tuple()
        .one(&txn)
        .await
        .map_err(db_err("cannot read entity"))?
    else {
        return Ok(None);
    };
    // Lock the entity row first, as every writer does, so no capture slips in between the
    // counts and the delete.
    super::bump_revision(&txn, [row]).await?;
    let mut removed = count_rows(&txn, row).await?;
    entities::Entity::delete_by_id(row).exec(&txn).await.map_err(db_err("cannot erase entity"))?;
    let left = count_rows(&txn, row).await?;
    if let Some((table, n)) = left.iter().find(|(_, n)| **n > 0) {
        return Err(Error::new(
            ErrorKind::Database,
            format!("erasure incomplete: {table} still holds {n} rows (is the foreign-key cascade missing?)"),
        ));
    }
    removed.insert("memori_entities".into(), 1);
    let audit_id = audit(
        &txn,
        actor,
        "entity.erase",
        "entity",
        Some(format!("row {row}")),
        serde_json::json!({ "removed": removed }),
    )
    .await?;
    txn.commit().await.map_err(db_err("cannot commit erasure"))?;
    Ok(Some((audit_id, removed)))
}

/// Everything stored for one entity, as rows (the caller turns them into the export).
pub(crate) struct ExportRows {
    pub(crate) messages: Vec<MessageRow>,
    pub(crate) embeddings: Vec<(i64, String, Vec<u8>)>,
    pub(crate) jobs: Vec<(i64, String, String, i64)>,
}

/// Read an entity's messages, embeddings and jobs for an export.
pub(crate) async fn export_rows(db: &DatabaseConnection, entity_row: i64) -> Result<ExportRows> {
    let rows = messages::Entity::find()
        .filter(messages::Column::EntityId.eq(entity_row))
        .order_by_asc(messages::Column::SessionId)
        .order_by_asc(messages::Column::SaidAt)
        .order_by_asc(messages::Column::Id)
        .all(db)
        .await
        .map_err(db_err("cannot read messages"))?;
    let messages = message_rows(db, rows).await?;
    let embeddings = embeddings::Entity::find()
        .select_only()
        .columns([embeddings::Column::MemoryId, embeddings::Column::Model, embeddings::Column::Vector])
        .filter(embeddings::Column::EntityId.eq(entity_row))
        .order_by_asc(embeddings::Column::MemoryId)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read embeddings"))?;
    let jobs = jobs::Entity::find()
        .select_only()
        .columns([jobs::Column::Id, jobs::Column::Kind, jobs::Column::Status, jobs::Column::CreatedAt])
        .filter(jobs::Column::EntityId.eq(entity_row))
        .order_by_asc(jobs::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read jobs"))?;
    Ok(ExportRows { messages, embeddings, jobs })
}

/// Row counts for the overview page.
pub(crate) struct Totals {
    pub(crate) entities: u64,
    pub(crate) sessions: u64,
    pub(crate) messages: u64,
    pub(crate) memories: u64,
    pub(crate) invalidated: u64,
    pub(crate) edges: u64,
    pub(crate) jobs: BTreeMap<String, u64>,
}

/// Whole-store counts and jobs by status.
pub(crate) async fn totals(db: &DatabaseConnection) -> Result<Totals> {
    let e = "cannot count rows";
    let jobs: Vec<(String, i64)> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::Status)
        .column_as(jobs::Column::Id.count(), "n")
        .group_by(jobs::Column::Status)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err(e))?;
    Ok(Totals {
        entities: entities::Entity::find().count(db).await.map_err(db_err(e))?,
        sessions: sessions::Entity::find().count(db).await.map_err(db_err(e))?,
        messages: messages::Entity::find().count(db).await.map_err(db_err(e))?,
        memories: memories::Entity::find()
            .filter(memories::Column::InvalidatedAt.is_null())
            .count(db)
            .await
            .map_err(db_err(e))?,
        invalidated: memories::Entity::find()
            .filter(memories::Column::InvalidatedAt.is_not_null())
            .count(db)
            .await
            .map_err(db_err(e))?,
        edges: kg_edges::Entity::find().count(db).await.map_err(db_err(e))?,
        jobs: jobs.into_iter().map(|(s, n)| (s, n.max(0) as u64)).collect(),
    })
}

/// Audit records, newest first, older than `before` (an id) when given.
pub(crate) async fn audit_entries(
    db: &DatabaseConnection,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<audit_log::Model>> {
    let mut q = audit_log::Entity::find();
    if let Some(b) = before {
        q = q.filter(audit_log::Column::Id.lt(b));
    }
    q.order_by_desc(audit_log::Column::Id).limit(limit).all(db).await.map_err(db_err("cannot read the audit log"))
}

/// Delete data older than each process's cutoff: `cutoffs` maps process row ids to a cutoff
/// (ms), `default_cutoff` applies to the others. Returns counts per table.
pub(crate) async fn apply_retention(
    db: &DatabaseConnection,
    process_cutoffs: &BTreeMap<String, i64>,
    default_cutoff: Option<i64>,
    actor: &str,
) -> Result<BTreeMap<String, u64>> {
    let txn = super::begin_write(db, "cannot begin retention").await?;
    let procs: Vec<(i64, String)> = processes::Entity::find()
        .select_only()
        .columns([processes::Column::Id, processes::Column::ExternalId])
        .into_tuple()
        .all(&txn)
        .await
        .map_err(db_err("cannot read processes"))?;
    let mut removed: BTreeMap<String, u64> = BTreeMap::new();
    let mut plan: Vec<(Option<i64>, i64)> = Vec::new();
    let listed: Vec<i64> =
        procs.iter().filter(|(_, name)| process_cutoffs.contains_key(name)).map(|(id, _)| *id).collect();
    for (id, name) in &procs {
        if let Some(c) = process_cutoffs.get(name) {
            plan.push((Some(*id), *c));
        }
    }
    for (process, cutoff) in plan.into_iter().chain(default_cutoff.map(|c| (None, c))) {
        // (An empty `NOT IN` list is left out rather than trusted to each backend's dialect.)
        let scope = |col_process: memories::Column| match process {
            Some(p) => sea_orm::Condition::all().add(col_process.eq(p)),
            None if listed.is_empty() => sea_orm::Condition::all(),
            None => sea_orm::Condition::all().add(col_process.is_not_in(listed.clone())),
        };
        let mem_cond = scope(memories::Column::ProcessId).add(memories::Column::LastSeenAt.lt(cutoff));
        let msg_cond = match process {
            Some(p) => sea_orm::Condition::all().add(messages::Column::ProcessId.eq(p)),
            None if listed.is_empty() => sea_orm::Condition::all(),
            None => sea_orm::Condition::all().add(messages::Column::ProcessId.is_not_in(listed.clone())),
        }
        .add(messages::Column::SaidAt.lt(cutoff));
        // Memories without a process (none are written today) follow the global policy.
        let mem_cond = if process.is_none() {
            sea_orm::Condition::any().add(mem_cond).add(
                sea_orm::Condition::all()
                    .add(memories::Column::ProcessId.is_null())
                    .add(memories::Column::LastSeenAt.lt(cutoff)),
            )
        } else {
            mem_cond
        };
        let mut touched: Vec<i64> = memories::Entity::find()
            .select_only()
            .column(memories::Column::EntityId)
            .filter(mem_cond.clone())
            .distinct()
            .into_tuple()
            .all(&txn)
            .await
            .map_err(db_err("cannot plan retention"))?;
        touched.extend(
            messages::Entity::find()
                .select_only()
                .column(messages::Column::EntityId)
                .filter(msg_cond.clone())
                .distinct()
                .into_tuple::<i64>()
                .all(&txn)
                .await
                .map_err(db_err("cannot plan retention"))?,
        );
        super::bump_revision(&txn, touched).await?;
        let n = memories::Entity::delete_many().filter(mem_cond).exec(&txn).await.map_err(db_err("retention"))?;
        *removed.entry("memori_memories".into()).or_default() += n.rows_affected;
        let n = messages::Entity::delete_many().filter(msg_cond).exec(&txn).await.map_err(db_err("retention"))?;
        *removed.entry("memori_messages".into()).or_default() += n.rows_affected;
    }
    // Sessions left with no message and no memory.
    let empty: Vec<i64> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Id)
        .filter(sessions::Column::Id.not_in_subquery(
            sea_orm::sea_query::Query::select().column(messages::Column::SessionId).from(messages::Entity).to_owned(),
        ))
        .filter(
            sessions::Column::Id.not_in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(memories::Column::SessionId)
                    .from(memories::Entity)
                    .and_where(memories::Column::SessionId.is_not_null())
                    .to_owned(),
            ),
        )
        .into_tuple()
        .all(&txn)
        .await
        .map_err(db_err("cannot find empty sessions"))?;
    let mut n_sessions = 0;
    for chunk in empty.chunks(500) {
        n_sessions += sessions::Entity::delete_many()
            .filter(sessions::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await
            .map_err(db_err("retention"))?
            .rows_affected;
    }
    removed.insert("memori_sessions".into(), n_sessions);
    audit(&txn, actor, "retention.apply", "store", None, serde_json::json!({ "removed": removed })).await?;
    txn.commit().await.map_err(db_err("cannot commit retention"))?;
    Ok(removed)
}
