//! The only door to SQL: connection, migrations, and one plain `async fn` per query, grouped
//! by concept in the child modules.
//!
//! Invariant: no other module imports sea-orm. Functions take a connection (or transaction)
//! and domain values, and return domain values or row structs defined here. Everything that
//! writes an entity's recall data (memories, embeddings, sources, graph) does so through an
//! [`EntityWrite`], which cannot exist without having moved the entity's memory revision on.
//!
//! - [`capture`]: entities, processes, sessions and messages; the memory revision.
//! - [`memories`]: episodes, embeddings, operators' corrections.
//! - [`recall`]: what recall reads: an entity's memories, and what changed since a revision.
//! - [`augment`]: an extraction's writes (memories by key, sources, triples, invalidations).
//! - [`graph`]: graph reads.
//! - [`jobs`]: the durable queue.
//! - [`browse`]: what operators list and read.
//! - [`compliance`]: erasure, export, retention.
//! - [`audit`], [`settings`], [`operators`]: the audit log, versioned settings, dashboard logins.
//! - [`entity`]: the sea-orm entities, one per table.

pub(crate) mod audit;
pub(crate) mod augment;
pub(crate) mod browse;
pub(crate) mod capture;
pub(crate) mod compliance;
pub(crate) mod entity;
pub(crate) mod graph;
pub(crate) mod jobs;
pub(crate) mod memories;
pub(crate) mod operators;
pub(crate) mod recall;
pub(crate) mod settings;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, PrimaryKeyTrait, QueryFilter, QuerySelect, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::error::{Error, ErrorKind, Result};
use entity::entities;

pub(crate) use capture::{NewMessage, StoredMessage};
pub(crate) use memories::{EmbeddingRow, NewMemory};

/// A sea-orm connection pool, which [`crate::MemoriBuilder::connection`] accepts.
pub(crate) use sea_orm::DatabaseConnection;

/// A connection pool: what every query takes.
pub(crate) type Db = DatabaseConnection;

/// The database id of an entity row (not the application's external id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct EntityRow(pub(crate) i64);

/// The database id of a session row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SessionRow(pub(crate) i64);

/// The database id of a process row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ProcessRow(pub(crate) i64);

/// Milliseconds since the Unix epoch: how every time is stored.
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`ms`]; out-of-range values clamp to the epoch instead of panicking.
pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

fn db_err(context: &'static str) -> impl FnOnce(DbErr) -> Error {
    move |e| Error::database(context, e)
}

/// Most values bound in one `IN (...)` list: every backend limits parameters per statement.
const IN_LIST: usize = 500;

/// Open a connection pool. SQLite files are created when missing and run in WAL mode.
pub(crate) async fn connect(url: &str) -> Result<Db> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(10));
    let is_sqlite = url.starts_with("sqlite:");
    if is_sqlite && url.contains(":memory:") {
        // Every connection to `sqlite::memory:` is its own empty database: keep exactly one.
        opts.max_connections(1).min_connections(1);
    } else if is_sqlite {
        // WAL: readers never wait for the one writer, so recalls may read in parallel.
        opts.max_connections(16);
    }
    if is_sqlite {
        create_sqlite_parent(url)?;
        // Freed pages are overwritten with zeros, so erased text does not linger in the file.
        opts.map_sqlx_sqlite_opts(|o| o.pragma("secure_delete", "on"));
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
        Error::new(ErrorKind::Database, format!("cannot create the directory {} for SQLite: {e}", parent.display()))
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

/// Apply every pending migration.
pub(crate) async fn migrate(db: &Db) -> Result<()> {
    memori_migrations::Migrator::up(db, None).await.map_err(db_err("migration failed"))
}

/// Whether the database answers, and how many of this build's migrations it has not applied
/// (for readiness probes).
pub(crate) async fn readiness(db: &Db) -> Result<usize> {
    db.ping().await.map_err(db_err("the database does not answer"))?;
    let pending = memori_migrations::Migrator::get_pending_migrations(db)
        .await
        .map_err(db_err("cannot read the applied migrations"))?;
    Ok(pending.len())
}

/// Which database the pool talks to, for logs and `Debug`.
pub(crate) fn backend_name(db: &Db) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        _ => "mysql",
    }
}

// Every "insert unless present" goes through the two functions below. They use
// `do_nothing_on([first key column])`: sea-query renders it as `ON CONFLICT .. DO NOTHING` on
// PostgreSQL and SQLite and as the no-op `ON DUPLICATE KEY UPDATE col = col` on MySQL, whose
// plain `do_nothing()` is not valid SQL; either way a row that exists is left alone. On MySQL
// the affected-row count cannot tell an insert from that no-op (sqlx connects with
// `CLIENT_FOUND_ROWS`), so only `insert_new`, which reads the auto-increment id, says whether
// a row is new; other callers that need to know look first, under the entity's write lock.

fn unless_present<E: EntityTrait>(key: &[E::Column]) -> OnConflict {
    let first = key.first().copied().expect("a conflict key has at least one column");
    OnConflict::columns(key.iter().copied()).do_nothing_on([first]).to_owned()
}

/// Insert `row` unless a row with the same `key` exists.
pub(crate) async fn insert_unless_present<A, C>(
    db: &C,
    row: A,
    key: &[<A::Entity as EntityTrait>::Column],
    context: &'static str,
) -> Result<()>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    <A::Entity as EntityTrait>::insert(row)
        .on_conflict(unless_present::<A::Entity>(key))
        .exec_without_returning(db)
        .await
        .map_err(db_err(context))?;
    Ok(())
}

/// Like [`insert_unless_present`] for a table with an auto-increment id: the new row's id, or
/// `None` when a row with the same `key` was present.
pub(crate) async fn insert_new<A, C>(
    db: &C,
    row: A,
    key: &[<A::Entity as EntityTrait>::Column],
    context: &'static str,
) -> Result<Option<<<A::Entity as EntityTrait>::PrimaryKey as PrimaryKeyTrait>::ValueType>>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    match <A::Entity as EntityTrait>::insert(row).on_conflict(unless_present::<A::Entity>(key)).exec(db).await {
        Ok(r) => Ok(Some(r.last_insert_id)),
        Err(DbErr::RecordNotInserted) => Ok(None),
        Err(e) => Err(Error::database(context, e)),
    }
}

/// The external ids of rows of a table with an `id` and an `external_id` column (sessions,
/// processes, entities), by row id. Ids that do not exist are missing from the map.
pub(crate) async fn external_ids<E, C>(
    db: &C,
    (id, external_id): (E::Column, E::Column),
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, String>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(out);
    }
    for chunk in ids.chunks(IN_LIST) {
        let rows: Vec<(i64, String)> = E::find()
            .select_only()
            .columns([id, external_id])
            .filter(id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err("cannot read ids"))?;
        out.extend(rows);
    }
    Ok(out)
}

/// Begin a transaction that will write. On SQLite it starts as a write transaction
/// (`BEGIN IMMEDIATE`), which waits for the write lock up to the busy timeout; a deferred
/// transaction that reads first and writes later fails at once with "database is locked"
/// when another connection writes. Other backends ignore the mode.
pub(crate) async fn begin_write(db: &Db, context: &'static str) -> Result<DatabaseTransaction> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
    .map_err(db_err(context))
}

/// A write transaction over some entities' recall data (memories, embeddings, sources,
/// graph). It exists only after the entities' memory revision was moved on, first thing in
/// the transaction: the entity row lock then orders such writers, and a reader that sees the
/// new revision also sees what the transaction wrote. Every function that writes recall data
/// takes one, so no writer can forget the revision.
pub(crate) struct EntityWrite {
    txn: DatabaseTransaction,
    /// The new memory revision of each entity touched, which the rows written are stamped with.
    revisions: std::sync::Mutex<HashMap<EntityRow, i64>>,
}

impl EntityWrite {
    /// Begin a write transaction and move the revision of `entities` on.
    pub(crate) async fn begin(
        db: &Db,
        entities: impl IntoIterator<Item = EntityRow>,
        context: &'static str,
    ) -> Result<Self> {
        Self::lock(begin_write(db, context).await?, entities).await
    }

    /// Move the revision of `entities` on inside a transaction that already read what it needed
    /// to find them (an erasure, a correction).
    pub(crate) async fn lock(txn: DatabaseTransaction, entities: impl IntoIterator<Item = EntityRow>) -> Result<Self> {
        let w = Self { txn, revisions: std::sync::Mutex::new(HashMap::new()) };
        w.touch(entities).await?;
        Ok(w)
    }

    /// Move the revision of more entities on, before this transaction writes their rows (a
    /// retention run finds the entities it touches as it goes).
    pub(crate) async fn touch(&self, entities: impl IntoIterator<Item = EntityRow>) -> Result<()> {
        let mut rows: Vec<i64> = entities.into_iter().map(|e| e.0).collect();
        rows.sort_unstable();
        rows.dedup();
        for chunk in rows.chunks(IN_LIST) {
            entities::Entity::update_many()
                .col_expr(
                    entities::Column::MemoryRevision,
                    sea_orm::sea_query::ExprTrait::add(
                        sea_orm::sea_query::Expr::col(entities::Column::MemoryRevision),
                        1,
                    ),
                )
                .filter(entities::Column::Id.is_in(chunk.iter().copied()))
                .exec(&self.txn)
                .await
                .map_err(db_err("cannot bump the memory revision"))?;
            let now: Vec<(i64, i64)> = entities::Entity::find()
                .select_only()
                .columns([entities::Column::Id, entities::Column::MemoryRevision])
                .filter(entities::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(&self.txn)
                .await
                .map_err(db_err("cannot read the memory revision"))?;
            self.revisions().extend(now.into_iter().map(|(id, r)| (EntityRow(id), r)));
        }
        Ok(())
    }

    fn revisions(&self) -> std::sync::MutexGuard<'_, HashMap<EntityRow, i64>> {
        self.revisions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The revision this transaction moved `entity` to: what the rows it writes carry.
    pub(crate) fn revision(&self, entity: EntityRow) -> Result<i64> {
        self.revisions().get(&entity).copied().ok_or_else(|| {
            Error::new(ErrorKind::Internal, format!("entity row {} written without its revision moved on", entity.0))
        })
    }

    /// Stamp memories this transaction changed (a new source, an embedding, a correction,
    /// an invalidation) with the entity's new revision, so that recall indexes pick them up.
    pub(crate) async fn mark_memories(&self, entity: EntityRow, ids: &[i64]) -> Result<()> {
        let revision = self.revision(entity)?;
        for chunk in ids.chunks(IN_LIST) {
            entity::memories::Entity::update_many()
                .col_expr(entity::memories::Column::Revision, sea_orm::sea_query::Expr::value(revision))
                .filter(entity::memories::Column::EntityId.eq(entity.0))
                .filter(entity::memories::Column::Id.is_in(chunk.iter().copied()))
                .exec(&self.txn)
                .await
                .map_err(db_err("cannot stamp changed memories"))?;
        }
        Ok(())
    }

    /// Record that a memory of `entity` was deleted (or, with `None`, that too much changed
    /// to list), for recall indexes to follow.
    pub(crate) async fn tombstone(&self, entity: EntityRow, memory_id: Option<i64>) -> Result<()> {
        let row = entity::memory_tombstones::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            entity_id: sea_orm::ActiveValue::Set(entity.0),
            memory_id: sea_orm::ActiveValue::Set(memory_id),
            revision: sea_orm::ActiveValue::Set(self.revision(entity)?),
        };
        entity::memory_tombstones::Entity::insert(row)
            .exec_without_returning(&self.txn)
            .await
            .map_err(db_err("cannot record a deleted memory"))?;
        Ok(())
    }

    /// The transaction, for the queries of this write.
    pub(crate) fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Commit everything written.
    pub(crate) async fn commit(self, context: &'static str) -> Result<()> {
        self.txn.commit().await.map_err(db_err(context))
    }
}

/// f32 values as little-endian bytes.
pub(crate) fn encode_vector(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The inverse of [`encode_vector`]; trailing bytes that do not make a whole f32 are ignored.
pub(crate) fn decode_vector(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
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

    #[test]
    fn vectors_round_trip_as_little_endian_bytes() {
        let v = [0.25f32, -1.5, 3.0e-8];
        assert_eq!(encode_vector(&v)[..4], 0.25f32.to_le_bytes());
        assert_eq!(decode_vector(&encode_vector(&v)), v);
        assert_eq!(decode_vector(&[0, 0, 128, 63, 1]), [1.0], "a partial f32 is ignored");
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
