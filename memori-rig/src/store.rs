//! The only door to SQL: connection, migrations, and one plain `async fn` per query.
//!
//! Invariant: no other module imports sea-orm. Functions take a connection (or transaction)
//! and domain values, and return domain values or row structs defined here.

pub(crate) mod admin;
pub(crate) mod augment;
pub(crate) mod entity;
pub(crate) mod jobs;
pub(crate) mod operators;
pub(crate) mod settings;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::error::{Error, Result};

use crate::model::{Memory, MemoryKind, Message, SourceRef};
use crate::scope::{EntityId, Scope};
use entity::{embeddings, entities, memories, memory_sources, messages, processes, sessions};
/// The sea-orm connection (pool) type accepted by [`crate::MemoriBuilder::connection`].
pub use sea_orm::DatabaseConnection;

/// Milliseconds since the Unix epoch: how every time is stored.
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`ms`]; out-of-range values clamp to the epoch instead of panicking.
pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

// Every "insert unless present" below uses `do_nothing_on([key])`: sea-query renders it as
// `ON CONFLICT .. DO NOTHING` on PostgreSQL and SQLite and as the no-op
// `ON DUPLICATE KEY UPDATE key = key` on MySQL (its plain `do_nothing` is not valid there);
// either way zero affected rows come back as `DbErr::RecordNotInserted`.

fn db_err(context: &'static str) -> impl FnOnce(DbErr) -> Error {
    move |e| Error::database(context, e)
}

/// Open a connection pool. SQLite files are created when missing and run in WAL mode.
pub(crate) async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(10));
    let is_sqlite = url.starts_with("sqlite:");
    if is_sqlite && url.contains(":memory:") {
        // Every connection to `sqlite::memory:` is its own empty database: keep exactly one.
        opts.max_connections(1).min_connections(1);
    } else if is_sqlite {
        opts.max_connections(4);
    }
    if is_sqlite {
        create_sqlite_parent(url)?;
    }
    let db = Database::connect(opts)
        .await
        .map_err(|e| Error::database(&format!("cannot connect to {}", redact_url(url)), e))?;
    if db.get_database_backend() == DbBackend::Sqlite && !url.contains(":memory:") {
        db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .await
            .map_err(db_err("cannot configure SQLite"))?;
    }
    Ok(db)
}

/// The file path of a SQLite URL (`sqlite://path?..`, `sqlite:path`), `None` for in-memory ones.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}

/// SQLite creates a missing file (`mode=rwc`) but not a missing directory: create it.
fn create_sqlite_parent(url: &str) -> Result<()> {
    let Some(parent) = sqlite_path(url).and_then(|p| std::path::Path::new(p).parent()) else { return Ok(()) };
    if parent.as_os_str().is_empty() || parent.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(parent).map_err(|e| {
        Error::new(
            crate::ErrorKind::Database,
            format!("cannot create the directory {} for SQLite: {e}", parent.display()),
        )
    })
}

/// A database URL with its password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_and_redaction() {
        assert_eq!(sqlite_path("sqlite://target/demo.db?mode=rwc"), Some("target/demo.db"));
        assert_eq!(sqlite_path("sqlite:///tmp/a.db"), Some("/tmp/a.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("mysql://u@h"), "mysql://u@h");
    }

    #[tokio::test]
    async fn a_missing_sqlite_directory_is_created() {
        let dir = std::env::temp_dir().join(format!("memori-dir-{}", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}?mode=rwc", dir.join("nested/m.db").display());
        let db = connect(&url).await.unwrap();
        migrate(&db).await.unwrap();
        assert!(dir.join("nested/m.db").exists());
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Apply every pending migration.
pub(crate) async fn migrate(db: &DatabaseConnection) -> Result<()> {
    memori_migrations::Migrator::up(db, None).await.map_err(db_err("migration failed"))
}

/// Database ids of one scope's rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScopeIds {
    pub(crate) entity: i64,
    pub(crate) process: i64,
    pub(crate) session: i64,
}

/// Create (or touch) the entity, process and session rows of a scope.
async fn ensure_scope<C: ConnectionTrait>(db: &C, scope: &Scope, now: i64) -> Result<ScopeIds> {
    entities::Entity::insert(entities::ActiveModel {
        id: NotSet,
        external_id: Set(scope.entity.as_str().to_owned()),
        created_at: Set(now),
        last_seen_at: Set(now),
        memory_revision: NotSet,
    })
    .on_conflict(
        OnConflict::column(entities::Column::ExternalId).update_column(entities::Column::LastSeenAt).to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map_err(db_err("cannot store entity"))?;
    let entity = entities::Entity::find()
        .filter(entities::Column::ExternalId.eq(scope.entity.as_str()))
        .one(db)
        .await
        .map_err(db_err("cannot read entity"))?
        .ok_or_else(|| Error::new(crate::ErrorKind::Database, "entity row vanished after upsert"))?;

    processes::Entity::insert(processes::ActiveModel {
        id: NotSet,
        external_id: Set(scope.process.as_str().to_owned()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(processes::Column::ExternalId).do_nothing_on([processes::Column::ExternalId]).to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map_err(db_err("cannot store process"))?;
    let process = processes::Entity::find()
        .filter(processes::Column::ExternalId.eq(scope.process.as_str()))
        .one(db)
        .await
        .map_err(db_err("cannot read process"))?
        .ok_or_else(|| Error::new(crate::ErrorKind::Database, "process row vanished after insert"))?;

    sessions::Entity::insert(sessions::ActiveModel {
        id: NotSet,
        entity_id: Set(entity.id),
        process_id: Set(process.id),
        external_id: Set(scope.session.as_str().to_owned()),
        summary: Set(None),
        created_at: Set(now),
        last_seen_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([sessions::Column::EntityId, sessions::Column::ExternalId])
            .update_column(sessions::Column::LastSeenAt)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map_err(db_err("cannot store session"))?;
    let session = sessions::Entity::find()
        .filter(sessions::Column::EntityId.eq(entity.id))
        .filter(sessions::Column::ExternalId.eq(scope.session.as_str()))
        .one(db)
        .await
        .map_err(db_err("cannot read session"))?
        .ok_or_else(|| Error::new(crate::ErrorKind::Database, "session row vanished after upsert"))?;

    Ok(ScopeIds { entity: entity.id, process: process.id, session: session.id })
}

/// A message ready to store: validated, with its idempotency key.
#[derive(Clone, Debug)]
pub(crate) struct NewMessage {
    pub(crate) message: Message,
    /// `message.plain_text()`, computed once by the caller's validation.
    pub(crate) text: String,
    pub(crate) idempotency_key: String,
    pub(crate) run_id: Option<String>,
}

/// What [`capture`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureReceipt {
    /// Messages newly stored.
    pub stored: usize,
    /// Messages skipped because their idempotency key was already stored.
    pub duplicates: usize,
    /// The augmentation job enqueued with them, if any message was new.
    pub job_id: Option<i64>,
}

/// Store messages and enqueue their augmentation job, in one transaction: either both happen
/// or neither does, so no captured message can miss augmentation.
pub(crate) async fn capture(
    db: &DatabaseConnection,
    scope: &Scope,
    batch: Vec<NewMessage>,
    max_attempts: i32,
) -> Result<CaptureReceipt> {
    let txn = begin_write(db, "cannot begin capture").await?;
    let now = ms(Utc::now());
    let ids = ensure_scope(&txn, scope, now).await?;
    let mut position: i64 = messages::Entity::find()
        .select_only()
        .column_as(messages::Column::Position.max(), "max_pos")
        .filter(messages::Column::SessionId.eq(ids.session))
        .into_tuple::<Option<i64>>()
        .one(&txn)
        .await
        .map_err(db_err("cannot read session position"))?
        .flatten()
        .unwrap_or(0);

    let mut receipt = CaptureReceipt::default();
    let mut new_ids = Vec::new();
    for item in batch {
        let m = &item.message;
        let parts = serde_json::to_string(&m.parts).map_err(|e| Error::invalid_input(format!("message parts: {e}")))?;
        let raw = m
            .raw
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::invalid_input(format!("raw message: {e}")))?;
        position += 1;
        let res = messages::Entity::insert(messages::ActiveModel {
            id: NotSet,
            entity_id: Set(ids.entity),
            session_id: Set(ids.session),
            process_id: Set(ids.process),
            role: Set(m.role.as_str().to_owned()),
            name: Set(m.name.clone()),
            parts: Set(parts.replace("\\u0000", "\\ufffd")),
            raw: Set(raw.map(|r| r.replace("\\u0000", "\\ufffd"))),
            text: Set(item.text.clone()),
            position: Set(position),
            said_at: Set(m.said_at.map_or(now, ms)),
            captured_at: Set(now),
            run_id: Set(item.run_id.clone()),
            external_id: Set(m.external_id.clone()),
            fingerprint: Set(m.fingerprint()),
            idempotency_key: Set(item.idempotency_key.clone()),
        })
        .on_conflict(
            OnConflict::column(messages::Column::IdempotencyKey)
                .do_nothing_on([messages::Column::IdempotencyKey])
                .to_owned(),
        )
        .exec(&txn)
        .await;
        match res {
            Ok(r) => {
                receipt.stored += 1;
                new_ids.push(r.last_insert_id);
            }
            Err(DbErr::RecordNotInserted) => {
                receipt.duplicates += 1;
                position -= 1;
            }
            Err(e) => return Err(Error::database("cannot store message", e)),
        }
    }

    if !new_ids.is_empty() {
        let key = format!("augment:{}:{}", ids.entity, new_ids[0]);
        let payload = serde_json::json!({ "message_ids": new_ids }).to_string();
        receipt.job_id =
            jobs::enqueue(&txn, Some(ids.entity), jobs::Kind::Augment, &payload, &key, now, max_attempts).await?;
    }
    txn.commit().await.map_err(db_err("cannot commit capture"))?;
    Ok(receipt)
}

/// A stored message, as augmentation needs it.
#[derive(Clone, Debug)]
pub(crate) struct StoredMessage {
    pub(crate) id: i64,
    pub(crate) entity_id: i64,
    pub(crate) session_id: i64,
    pub(crate) process_id: i64,
    pub(crate) message: Message,
    /// The message's plain text, as stored.
    pub(crate) text: String,
}

/// The summary an extractor wrote for a session, if any.
pub(crate) async fn session_summary(db: &DatabaseConnection, session_row: i64) -> Result<Option<String>> {
    let row: Option<Option<String>> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Summary)
        .filter(sessions::Column::Id.eq(session_row))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read session"))?;
    Ok(row.flatten())
}

/// Load messages by id (in id order), skipping ids that no longer exist (erased).
pub(crate) async fn messages_by_id(db: &DatabaseConnection, ids: &[i64]) -> Result<Vec<StoredMessage>> {
    let mut rows = Vec::with_capacity(ids.len());
    // Bounded `IN` lists: every backend limits the number of bound parameters per statement.
    for chunk in ids.chunks(500) {
        rows.extend(
            messages::Entity::find()
                .filter(messages::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await
                .map_err(db_err("cannot read messages"))?,
        );
    }
    rows.sort_by_key(|r| r.id);
    rows.into_iter()
        .map(|r| {
            let parts = serde_json::from_str(&r.parts)
                .map_err(|e| Error::invalid_input(format!("stored message {} has unreadable parts: {e}", r.id)))?;
            Ok(StoredMessage {
                id: r.id,
                entity_id: r.entity_id,
                session_id: r.session_id,
                process_id: r.process_id,
                message: Message {
                    role: crate::model::Role::parse(&r.role).unwrap_or(crate::model::Role::User),
                    name: r.name,
                    parts,
                    said_at: Some(from_ms(r.said_at)),
                    raw: None,
                    external_id: r.external_id,
                },
                text: r.text,
            })
        })
        .collect()
}

/// A memory to write.
#[derive(Clone, Debug)]
pub(crate) struct NewMemory {
    pub(crate) entity_id: i64,
    pub(crate) session_id: Option<i64>,
    pub(crate) process_id: Option<i64>,
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

/// Begin a transaction that will write. On SQLite it starts as a write transaction
/// (`BEGIN IMMEDIATE`), which waits for the write lock up to the busy timeout; a deferred
/// transaction that reads first and writes later fails at once with "database is locked"
/// when another connection writes. Other backends ignore the mode.
pub(crate) async fn begin_write(
    db: &DatabaseConnection,
    context: &'static str,
) -> Result<sea_orm::DatabaseTransaction> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
    .map_err(db_err(context))
}

/// Move the memory revision of these entities on (see [`memory_revision`]). Called first in
/// every transaction that writes memories, embeddings, sources or graph rows, so that the
/// entity row lock orders such transactions and a reader that sees the new revision also
/// sees what the transaction wrote.
pub(crate) async fn bump_revision<C: ConnectionTrait>(
    db: &C,
    entity_rows: impl IntoIterator<Item = i64>,
) -> Result<()> {
    let mut rows: Vec<i64> = entity_rows.into_iter().collect();
    rows.sort_unstable();
    rows.dedup();
    if rows.is_empty() {
        return Ok(());
    }
    entities::Entity::update_many()
        .col_expr(
            entities::Column::MemoryRevision,
            sea_orm::sea_query::ExprTrait::add(sea_orm::sea_query::Expr::col(entities::Column::MemoryRevision), 1),
        )
        .filter(entities::Column::Id.is_in(rows))
        .exec(db)
        .await
        .map_err(db_err("cannot bump the memory revision"))?;
    Ok(())
}

/// An entity's row id and memory revision: the revision changes whenever anything recall
/// reads for the entity changes, in any process. `None` for an unknown entity.
pub(crate) async fn memory_revision(db: &DatabaseConnection, entity: &EntityId) -> Result<Option<(i64, i64)>> {
    entities::Entity::find()
        .select_only()
        .columns([entities::Column::Id, entities::Column::MemoryRevision])
        .filter(entities::Column::ExternalId.eq(entity.as_str()))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read entity"))
}

/// The insert statement for a memory under `key`, doing nothing when the entity already has
/// a memory with that key.
pub(crate) fn insert_memory_unless_present(
    m: &NewMemory,
    key: &str,
    mention_count: i32,
    now: i64,
) -> sea_orm::Insert<memories::ActiveModel> {
    memories::Entity::insert(memories::ActiveModel {
        id: NotSet,
        entity_id: Set(m.entity_id),
        session_id: Set(m.session_id),
        process_id: Set(m.process_id),
        kind: Set(m.kind.as_str().to_owned()),
        text: Set(m.text.clone()),
        importance: Set(m.importance),
        confidence: Set(m.confidence),
        mention_count: Set(mention_count),
        created_at: Set(now),
        last_seen_at: Set(m.valid_from),
        valid_from: Set(m.valid_from),
        referred_at: Set(m.referred_at),
        invalidated_at: Set(None),
        invalidated_by: Set(None),
        dedup_key: Set(key.to_owned()),
    })
    .on_conflict(
        OnConflict::columns([memories::Column::EntityId, memories::Column::DedupKey])
            .do_nothing_on([memories::Column::EntityId])
            .to_owned(),
    )
}

/// Insert memories that do not exist yet (by `dedup_key`), with their sources, in one
/// transaction. Running it twice changes nothing. Returns the ids of all given memories.
pub(crate) async fn upsert_memories(db: &DatabaseConnection, items: &[NewMemory]) -> Result<Vec<i64>> {
    let txn = begin_write(db, "cannot begin memory write").await?;
    bump_revision(&txn, items.iter().map(|m| m.entity_id)).await?;
    let now = ms(Utc::now());
    let mut out = Vec::with_capacity(items.len());
    for m in items {
        insert_memory_unless_present(m, &m.dedup_key, 1, now)
            .exec_without_returning(&txn)
            .await
            .map_err(db_err("cannot store memory"))?;
        let id: i64 = memories::Entity::find()
            .select_only()
            .column(memories::Column::Id)
            .filter(memories::Column::EntityId.eq(m.entity_id))
            .filter(memories::Column::DedupKey.eq(&m.dedup_key))
            .into_tuple()
            .one(&txn)
            .await
            .map_err(db_err("cannot read memory"))?
            .ok_or_else(|| Error::new(crate::ErrorKind::Database, "memory row vanished after insert"))?;
        for &message_id in &m.source_message_ids {
            memory_sources::Entity::insert(memory_sources::ActiveModel {
                memory_id: Set(id),
                message_id: Set(message_id),
                entity_id: Set(m.entity_id),
            })
            .on_conflict(
                OnConflict::columns([memory_sources::Column::MemoryId, memory_sources::Column::MessageId])
                    .do_nothing_on([memory_sources::Column::MemoryId])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(db_err("cannot store memory source"))?;
        }
        out.push(id);
    }
    txn.commit().await.map_err(db_err("cannot commit memories"))?;
    Ok(out)
}

/// Of `memory_ids`, those with no embedding from `model` yet, with their text.
pub(crate) async fn missing_embeddings(
    db: &DatabaseConnection,
    memory_ids: &[i64],
    model: &str,
) -> Result<Vec<(i64, i64, String)>> {
    let have: Vec<i64> = embeddings::Entity::find()
        .select_only()
        .column(embeddings::Column::MemoryId)
        .filter(embeddings::Column::MemoryId.is_in(memory_ids.iter().copied()))
        .filter(embeddings::Column::Model.eq(model))
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read embeddings"))?;
    let rows: Vec<(i64, i64, String)> = memories::Entity::find()
        .select_only()
        .columns([memories::Column::Id, memories::Column::EntityId, memories::Column::Text])
        .filter(memories::Column::Id.is_in(memory_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read memories"))?;
    Ok(rows.into_iter().filter(|(id, _, _)| !have.contains(id)).collect())
}

/// Store embeddings (little-endian f32); an existing (memory, model) pair is left as is.
pub(crate) async fn insert_embeddings(
    db: &DatabaseConnection,
    model: &str,
    rows: &[(i64, i64, Vec<f32>)],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let now = ms(Utc::now());
    let txn = begin_write(db, "cannot begin embedding write").await?;
    bump_revision(&txn, rows.iter().map(|r| r.1)).await?;
    for (memory_id, entity_id, vector) in rows {
        insert_embedding(&txn, *memory_id, *entity_id, model, vector, now).await?;
    }
    txn.commit().await.map_err(db_err("cannot commit embeddings"))
}

/// Store one embedding unless the (memory, model) pair has one.
pub(crate) async fn insert_embedding<C: ConnectionTrait>(
    db: &C,
    memory_id: i64,
    entity_id: i64,
    model: &str,
    vector: &[f32],
    now: i64,
) -> Result<()> {
    embeddings::Entity::insert(embeddings::ActiveModel {
        memory_id: Set(memory_id),
        model: Set(model.to_owned()),
        entity_id: Set(entity_id),
        dim: Set(i32::try_from(vector.len()).unwrap_or(i32::MAX)),
        vector: Set(encode_vector(vector)),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([embeddings::Column::MemoryId, embeddings::Column::Model])
            .do_nothing_on([embeddings::Column::MemoryId])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map_err(db_err("cannot store embedding"))?;
    Ok(())
}

/// f32 values as little-endian bytes.
pub(crate) fn encode_vector(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The inverse of [`encode_vector`]; trailing bytes that do not make a whole f32 are ignored.
pub(crate) fn decode_vector(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The database id of an entity, if it exists.
pub(crate) async fn entity_row_id(db: &DatabaseConnection, entity: &EntityId) -> Result<Option<i64>> {
    entities::Entity::find()
        .select_only()
        .column(entities::Column::Id)
        .filter(entities::Column::ExternalId.eq(entity.as_str()))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read entity"))
}

/// A recall candidate: a live memory with its embedding (if any) for the given model.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) memory: Memory,
    pub(crate) vector: Option<Vec<f32>>,
}

/// The memories of one entity that recall considers, with embeddings from `model` and
/// source references: those valid at `as_of` (valid from before it and not invalidated by
/// then; `None` means now), or every memory ever stored when `history` is set.
pub(crate) async fn candidates(
    db: &DatabaseConnection,
    entity_row: i64,
    model: &str,
    as_of: Option<i64>,
    history: bool,
) -> Result<Vec<Candidate>> {
    let mut q = memories::Entity::find().filter(memories::Column::EntityId.eq(entity_row));
    if let Some(t) = as_of {
        q = q.filter(memories::Column::ValidFrom.lte(t));
    }
    if !history {
        q = match as_of {
            Some(t) => q.filter(
                sea_orm::Condition::any()
                    .add(memories::Column::InvalidatedAt.is_null())
                    .add(memories::Column::InvalidatedAt.gt(t)),
            ),
            None => q.filter(memories::Column::InvalidatedAt.is_null()),
        };
    }
    let rows = q.order_by_asc(memories::Column::Id).all(db).await.map_err(db_err("cannot read memories"))?;

    let vectors: HashMap<i64, Vec<f32>> = embeddings::Entity::find()
        .select_only()
        .columns([embeddings::Column::MemoryId, embeddings::Column::Vector])
        .filter(embeddings::Column::EntityId.eq(entity_row))
        .filter(embeddings::Column::Model.eq(model))
        .into_tuple::<(i64, Vec<u8>)>()
        .all(db)
        .await
        .map_err(db_err("cannot read embeddings"))?
        .into_iter()
        .map(|(id, bytes)| (id, decode_vector(&bytes)))
        .collect();

    let mut sources: HashMap<i64, Vec<SourceRef>> = HashMap::new();
    let source_rows: Vec<(i64, i64, Option<String>, String)> = memory_sources::Entity::find()
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
        .filter(memory_sources::Column::EntityId.eq(entity_row))
        .order_by_asc(memory_sources::Column::MessageId)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read memory sources"))?;
    for (memory_id, message_id, external_id, fingerprint) in source_rows {
        sources.entry(memory_id).or_default().push(SourceRef { message_id, external_id, fingerprint });
    }

    let session_names: HashMap<i64, String> = sessions::Entity::find()
        .select_only()
        .columns([sessions::Column::Id, sessions::Column::ExternalId])
        .filter(sessions::Column::EntityId.eq(entity_row))
        .into_tuple::<(i64, String)>()
        .all(db)
        .await
        .map_err(db_err("cannot read sessions"))?
        .into_iter()
        .collect();

    let mut process_ids: Vec<i64> = rows.iter().filter_map(|r| r.process_id).collect();
    process_ids.sort_unstable();
    process_ids.dedup();
    let process_names: HashMap<i64, String> = processes::Entity::find()
        .select_only()
        .columns([processes::Column::Id, processes::Column::ExternalId])
        .filter(processes::Column::Id.is_in(process_ids))
        .into_tuple::<(i64, String)>()
        .all(db)
        .await
        .map_err(db_err("cannot read processes"))?
        .into_iter()
        .collect();

    Ok(rows
        .into_iter()
        .map(|r| {
            let vector = vectors.get(&r.id).cloned();
            let memory = Memory {
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
            };
            Candidate { memory, vector }
        })
        .collect())
}

/// Row counts of an entity's data (for receipts, tests and the CLI).
pub(crate) async fn entity_stats(db: &DatabaseConnection, entity_row: i64) -> Result<crate::model::EntityStats> {
    use sea_orm::PaginatorTrait;
    let count = "cannot count an entity's rows";
    Ok(crate::model::EntityStats {
        messages: messages::Entity::find()
            .filter(messages::Column::EntityId.eq(entity_row))
            .count(db)
            .await
            .map_err(db_err(count))?,
        memories: memories::Entity::find()
            .filter(memories::Column::EntityId.eq(entity_row))
            .count(db)
            .await
            .map_err(db_err(count))?,
        embeddings: embeddings::Entity::find()
            .filter(embeddings::Column::EntityId.eq(entity_row))
            .count(db)
            .await
            .map_err(db_err(count))?,
    })
}

/// Jobs, newest first, as operators see them.
pub(crate) async fn job_infos(
    db: &DatabaseConnection,
    status: Option<&str>,
    limit: u64,
) -> Result<Vec<crate::model::JobInfo>> {
    Ok(jobs::list(db, status, limit)
        .await?
        .into_iter()
        .map(|j| crate::model::JobInfo {
            id: j.id,
            kind: j.kind,
            status: j.status,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error,
            created_at: from_ms(j.created_at),
            updated_at: from_ms(j.updated_at),
        })
        .collect())
}
