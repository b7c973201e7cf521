//! Capture: the entity, process and session rows of a scope, messages with their idempotency
//! keys and the augmentation job that will process them (one transaction), and reading them
//! back for augmentation. Also the entity's memory revision, which recall checks first.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entity::{entities, messages, processes, sessions};
use super::{Db, EntityRow, IN_LIST, ProcessRow, SessionRow, db_err, from_ms, ms};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{CaptureReceipt, Message, Role};
use crate::scope::{EntityId, Scope};

/// Database ids of one scope's rows.
#[derive(Clone, Copy, Debug)]
struct ScopeRows {
    entity: EntityRow,
    process: ProcessRow,
    session: SessionRow,
}

fn vanished(what: &str) -> Error {
    Error::new(ErrorKind::Database, format!("{what} row vanished after it was written"))
}

/// Create (or touch) the entity, process and session rows of a scope.
async fn ensure_scope<C: ConnectionTrait>(db: &C, scope: &Scope, now: i64) -> Result<ScopeRows> {
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
    let entity: i64 = entities::Entity::find()
        .select_only()
        .column(entities::Column::Id)
        .filter(entities::Column::ExternalId.eq(scope.entity.as_str()))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read entity"))?
        .ok_or_else(|| vanished("entity"))?;

    let process = processes::ActiveModel {
        id: NotSet,
        external_id: Set(scope.process.as_str().to_owned()),
        created_at: Set(now),
    };
    super::insert_unless_present(db, process, &[processes::Column::ExternalId], "cannot store process").await?;
    let process: i64 = processes::Entity::find()
        .select_only()
        .column(processes::Column::Id)
        .filter(processes::Column::ExternalId.eq(scope.process.as_str()))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read process"))?
        .ok_or_else(|| vanished("process"))?;

    sessions::Entity::insert(sessions::ActiveModel {
        id: NotSet,
        entity_id: Set(entity),
        process_id: Set(process),
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
    let session: i64 = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Id)
        .filter(sessions::Column::EntityId.eq(entity))
        .filter(sessions::Column::ExternalId.eq(scope.session.as_str()))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read session"))?
        .ok_or_else(|| vanished("session"))?;

    Ok(ScopeRows { entity: EntityRow(entity), process: ProcessRow(process), session: SessionRow(session) })
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

/// PostgreSQL cannot store NUL in text, even escaped in JSON.
fn without_nul(json: &str) -> String {
    json.replace("\\u0000", "\\ufffd")
}

/// Store messages and enqueue their augmentation job, in one transaction: either both happen
/// or neither does, so no captured message can miss augmentation.
pub(crate) async fn capture(
    db: &Db,
    scope: &Scope,
    batch: Vec<NewMessage>,
    max_attempts: i32,
) -> Result<CaptureReceipt> {
    let mut receipts = capture_all(db, vec![(scope.clone(), batch)], max_attempts).await?;
    Ok(receipts.pop().unwrap_or_default())
}

/// Store several captures (each with its own job) in one transaction, in order: what the
/// background writer does with the captures waiting for it. All or nothing.
pub(crate) async fn capture_all(
    db: &Db,
    batches: Vec<(Scope, Vec<NewMessage>)>,
    max_attempts: i32,
) -> Result<Vec<CaptureReceipt>> {
    let txn = super::begin_write(db, "cannot begin capture").await?;
    let now = ms(Utc::now());
    if batches.len() > 1 && db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        // Lock the entities' rows in id order, the order augmentation locks them in, so that a
        // group of captures and a batch of jobs over the same entities cannot deadlock.
        let mut names: Vec<&str> = batches.iter().map(|(s, _)| s.entity.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        entities::Entity::find()
            .select_only()
            .column(entities::Column::Id)
            .filter(entities::Column::ExternalId.is_in(names))
            .order_by_asc(entities::Column::Id)
            .lock_exclusive()
            .into_tuple::<i64>()
            .all(&txn)
            .await
            .map_err(db_err("cannot lock entities"))?;
    }
    let mut receipts = Vec::with_capacity(batches.len());
    for (scope, batch) in batches {
        receipts.push(capture_in(&txn, &scope, batch, max_attempts, now).await?);
    }
    txn.commit().await.map_err(db_err("cannot commit capture"))?;
    Ok(receipts)
}

async fn capture_in(
    txn: &sea_orm::DatabaseTransaction,
    scope: &Scope,
    batch: Vec<NewMessage>,
    max_attempts: i32,
    now: i64,
) -> Result<CaptureReceipt> {
    let rows = ensure_scope(txn, scope, now).await?;
    let mut position: i64 = messages::Entity::find()
        .select_only()
        .column_as(messages::Column::Position.max(), "max_pos")
        .filter(messages::Column::SessionId.eq(rows.session.0))
        .into_tuple::<Option<i64>>()
        .one(txn)
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
        let row = messages::ActiveModel {
            id: NotSet,
            entity_id: Set(rows.entity.0),
            session_id: Set(rows.session.0),
            process_id: Set(rows.process.0),
            role: Set(m.role.as_str().to_owned()),
            name: Set(m.name.clone()),
            parts: Set(without_nul(&parts)),
            raw: Set(raw.as_deref().map(without_nul)),
            text: Set(item.text.clone()),
            position: Set(position + 1),
            said_at: Set(m.said_at.map_or(now, ms)),
            captured_at: Set(now),
            run_id: Set(item.run_id.clone()),
            external_id: Set(m.external_id.clone()),
            fingerprint: Set(m.fingerprint()),
            idempotency_key: Set(item.idempotency_key.clone()),
        };
        match super::insert_new(txn, row, &[messages::Column::IdempotencyKey], "cannot store message").await? {
            Some(id) => {
                receipt.stored += 1;
                position += 1;
                new_ids.push(id);
            }
            None => receipt.duplicates += 1,
        }
    }

    if let Some(first) = new_ids.first() {
        let key = format!("augment:{}:{first}", rows.entity.0);
        let payload = serde_json::json!({ "message_ids": new_ids }).to_string();
        receipt.job_id = super::jobs::enqueue(
            txn,
            Some(rows.entity),
            memori_types::model::JobKind::Augment,
            &payload,
            &key,
            now,
            max_attempts,
        )
        .await?;
    }
    Ok(receipt)
}

/// A stored message, as augmentation needs it.
#[derive(Clone, Debug)]
pub(crate) struct StoredMessage {
    pub(crate) id: i64,
    pub(crate) entity: EntityRow,
    pub(crate) session: SessionRow,
    pub(crate) process: ProcessRow,
    pub(crate) message: Message,
    /// The message's plain text, as stored.
    pub(crate) text: String,
}

/// The summary an extractor wrote for a session, if any.
pub(crate) async fn session_summary(db: &Db, session: SessionRow) -> Result<Option<String>> {
    let row: Option<Option<String>> = sessions::Entity::find()
        .select_only()
        .column(sessions::Column::Summary)
        .filter(sessions::Column::Id.eq(session.0))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read session"))?;
    Ok(row.flatten())
}

/// Load messages by id (in id order), skipping ids that no longer exist (erased).
pub(crate) async fn messages_by_id(db: &Db, ids: &[i64]) -> Result<Vec<StoredMessage>> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_LIST) {
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
                entity: EntityRow(r.entity_id),
                session: SessionRow(r.session_id),
                process: ProcessRow(r.process_id),
                message: Message {
                    role: Role::parse(&r.role).unwrap_or(Role::User),
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

/// The database row of an entity, if it exists.
pub(crate) async fn entity_row(db: &Db, entity: &EntityId) -> Result<Option<EntityRow>> {
    let id: Option<i64> = entities::Entity::find()
        .select_only()
        .column(entities::Column::Id)
        .filter(entities::Column::ExternalId.eq(entity.as_str()))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read entity"))?;
    Ok(id.map(EntityRow))
}

/// An entity's row and memory revision: the revision changes whenever anything recall reads
/// for the entity changes, in any process (see [`super::EntityWrite`]). `None` for an unknown
/// entity.
pub(crate) async fn memory_revision(db: &Db, entity: &EntityId) -> Result<Option<(EntityRow, i64)>> {
    let row: Option<(i64, i64)> = entities::Entity::find()
        .select_only()
        .columns([entities::Column::Id, entities::Column::MemoryRevision])
        .filter(entities::Column::ExternalId.eq(entity.as_str()))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read entity"))?;
    Ok(row.map(|(id, revision)| (EntityRow(id), revision)))
}
