//! Compliance: erasing an entity with everything it owns, exporting it, and applying the
//! retention policy. Each is one transaction with its audit record.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::browse::{MessageEntry, message_rows};
use super::entity::{
    embeddings, entities, jobs, kg_edges, kg_nodes, memories, memory_sources, memory_tombstones, messages, processes,
    sessions,
};
use super::{Db, EntityRow, EntityWrite, db_err};
use crate::error::{Error, ErrorKind, Result};
use crate::model::JobInfo;

/// The tables holding end-user data, each with its `entity_id` column, in the order an
/// erasure receipt lists them.
const ENTITY_TABLES: [&str; 9] = [
    "memori_sessions",
    "memori_messages",
    "memori_memories",
    "memori_memory_sources",
    "memori_embeddings",
    "memori_kg_nodes",
    "memori_kg_edges",
    "memori_jobs",
    "memori_memory_tombstones",
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
        count_of::<memory_tombstones::Entity, _>(db, memory_tombstones::Column::EntityId, entity_row).await?,
    ];
    Ok(ENTITY_TABLES.iter().map(|t| (*t).to_owned()).zip(counts).collect())
}

/// Erase an entity and everything it owns in one transaction; the audit record holds the
/// entity's row id (meaningless once the row is gone) and counts, never the external id.
/// Returns the entity's former row, the audit record id and the counts removed per table, or
/// `None` when unknown.
pub(crate) async fn erase_entity(
    db: &Db,
    external_id: &str,
    actor: &str,
    reference: Option<&str>,
) -> Result<Option<(EntityRow, i64, BTreeMap<String, u64>)>> {
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
    let w = EntityWrite::lock(txn, [EntityRow(row)]).await?;
    let mut removed = count_rows(w.txn(), row).await?;
    entities::Entity::delete_by_id(row).exec(w.txn()).await.map_err(db_err("cannot erase entity"))?;
    let left = count_rows(w.txn(), row).await?;
    if let Some((table, n)) = left.iter().find(|(_, n)| **n > 0) {
        return Err(Error::new(
            ErrorKind::Database,
            format!("erasure incomplete: {table} still holds {n} rows (is the foreign-key cascade missing?)"),
        ));
    }
    removed.insert("memori_entities".into(), 1);
    let audit_id = super::audit::record(
        w.txn(),
        actor,
        "entity.erase",
        "entity",
        Some(format!("row {row}")),
        serde_json::json!({ "removed": removed, "reference": reference }),
    )
    .await?;
    w.commit("cannot commit erasure").await?;
    Ok(Some((EntityRow(row), audit_id, removed)))
}

/// After an erasure or retention run has committed, make the deleted rows' bytes leave the
/// disk as far as the backend allows; returns what was done, for the receipt.
///
/// - SQLite: every connection runs with `secure_delete` (freed pages are zeroed), and the WAL,
///   which still holds the old pages, is checkpointed and truncated here.
/// - PostgreSQL: `VACUUM` of the end-user tables, so dead tuples are pruned now rather than
///   whenever autovacuum comes by (base backups and archived WAL are the operator's to expire).
/// - MySQL/MariaDB: InnoDB purges deleted rows in the background; nothing to force safely.
pub(crate) async fn scrub(db: &Db) -> String {
    use sea_orm::DbBackend;
    let backend = db.get_database_backend();
    let outcome = match backend {
        DbBackend::Sqlite => {
            let row =
                db.query_one_raw(sea_orm::Statement::from_string(backend, "PRAGMA wal_checkpoint(TRUNCATE)")).await;
            match row {
                // (busy, log frames, checkpointed frames); busy = 1 when a reader held the WAL.
                Ok(Some(r)) if r.try_get_by_index::<i64>(0).is_ok_and(|busy| busy == 0) => {
                    Ok("overwritten: SQLite secure_delete, write-ahead log checkpointed and truncated")
                }
                Ok(_) => Err("the write-ahead log was busy; it is truncated at the next idle checkpoint".to_owned()),
                Err(e) => Err(e.to_string()),
            }
        }
        DbBackend::Postgres => {
            let tables = ENTITY_TABLES.iter().chain(&["memori_entities"]).copied().collect::<Vec<_>>().join(", ");
            match db.execute_unprepared(&format!("VACUUM {tables}")).await {
                Ok(_) => Ok("dead rows vacuumed (PostgreSQL VACUUM); backups and archived WAL expire on their own"),
                Err(e) => Err(e.to_string()),
            }
        }
        _ => Ok("deleted; InnoDB purges the old row versions in the background"),
    };
    outcome.map(str::to_owned).unwrap_or_else(|e| {
        tracing::warn!(target: "memori::audit", error = %e, "erased rows may stay on disk until the next checkpoint");
        format!("deleted; not yet scrubbed from disk: {e}")
    })
}

/// An embedding in an export.
pub(crate) struct ExportedVector {
    pub(crate) memory_id: i64,
    pub(crate) model: String,
    pub(crate) vector: Vec<f32>,
}

/// Everything stored for one entity, as rows (the caller turns them into the export).
pub(crate) struct ExportRows {
    pub(crate) messages: Vec<MessageEntry>,
    pub(crate) embeddings: Vec<ExportedVector>,
    pub(crate) jobs: Vec<JobInfo>,
}

/// Read an entity's messages, embeddings and jobs for an export.
pub(crate) async fn export_rows(db: &Db, entity: EntityRow) -> Result<ExportRows> {
    let rows = messages::Entity::find()
        .filter(messages::Column::EntityId.eq(entity.0))
        .order_by_asc(messages::Column::SessionId)
        .order_by_asc(messages::Column::SaidAt)
        .order_by_asc(messages::Column::Id)
        .all(db)
        .await
        .map_err(db_err("cannot read messages"))?;
    let messages = message_rows(db, rows).await?;
    let embeddings: Vec<(i64, String, Vec<u8>)> = embeddings::Entity::find()
        .select_only()
        .columns([embeddings::Column::MemoryId, embeddings::Column::Model, embeddings::Column::Vector])
        .filter(embeddings::Column::EntityId.eq(entity.0))
        .order_by_asc(embeddings::Column::MemoryId)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read embeddings"))?;
    let embeddings = embeddings
        .into_iter()
        .map(|(memory_id, model, bytes)| ExportedVector { memory_id, model, vector: super::decode_vector(&bytes) })
        .collect();
    Ok(ExportRows { messages, embeddings, jobs: super::jobs::of_entity(db, entity).await? })
}

/// Delete data older than each process's cutoff: `process_cutoffs` maps process external ids
/// to a cutoff (ms since the epoch), `default_cutoff` applies to every other process. Returns
/// the rows removed per table.
pub(crate) async fn apply_retention(
    db: &Db,
    process_cutoffs: &BTreeMap<String, i64>,
    default_cutoff: Option<i64>,
    actor: &str,
) -> Result<BTreeMap<String, u64>> {
    let w = EntityWrite::lock(super::begin_write(db, "cannot begin retention").await?, []).await?;
    let txn = w.txn();
    let procs: Vec<(i64, String)> = processes::Entity::find()
        .select_only()
        .columns([processes::Column::Id, processes::Column::ExternalId])
        .into_tuple()
        .all(txn)
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
            .all(txn)
            .await
            .map_err(db_err("cannot plan retention"))?;
        touched.extend(
            messages::Entity::find()
                .select_only()
                .column(messages::Column::EntityId)
                .filter(msg_cond.clone())
                .distinct()
                .into_tuple::<i64>()
                .all(txn)
                .await
                .map_err(db_err("cannot plan retention"))?,
        );
        let touched: Vec<EntityRow> = touched.into_iter().map(EntityRow).collect();
        w.touch(touched.iter().copied()).await?;
        // Deleted messages take source links with them, so much can change: indexes rebuild.
        for entity in touched {
            w.tombstone(entity, None).await?;
        }
        let n = memories::Entity::delete_many().filter(mem_cond).exec(txn).await.map_err(db_err("retention"))?;
        *removed.entry("memori_memories".into()).or_default() += n.rows_affected;
        let n = messages::Entity::delete_many().filter(msg_cond).exec(txn).await.map_err(db_err("retention"))?;
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
        .all(txn)
        .await
        .map_err(db_err("cannot find empty sessions"))?;
    let mut n_sessions = 0;
    for chunk in empty.chunks(500) {
        n_sessions += sessions::Entity::delete_many()
            .filter(sessions::Column::Id.is_in(chunk.iter().copied()))
            .exec(txn)
            .await
            .map_err(db_err("retention"))?
            .rows_affected;
    }
    removed.insert("memori_sessions".into(), n_sessions);
    let details = serde_json::json!({ "removed": removed });
    super::audit::record(txn, actor, "retention.apply", "store", None, details).await?;
    w.commit("cannot commit retention").await?;
    Ok(removed)
}
