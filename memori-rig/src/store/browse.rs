//! What operators list and read: entities with the size of their data, sessions,
//! transcripts, a memory's source messages, whole-store counts.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entity::{entities, jobs, kg_edges, memories, memory_sources, messages, processes, sessions};
use super::{Db, EntityRow, db_err};
use crate::error::Result;
use crate::model::{Part, Role};

/// A LIKE pattern for text containing `s` as typed: `%` and `_` match themselves.
fn containing(s: &str) -> sea_orm::sea_query::LikeExpr {
    let escaped: String =
        s.chars().flat_map(|c| if matches!(c, '%' | '_' | '!') { vec!['!', c] } else { vec![c] }).collect();
    sea_orm::sea_query::LikeExpr::new(format!("%{escaped}%")).escape('!')
}

/// Which memories a page of [`memory_page`] holds.
pub(crate) struct MemoryFilter<'a> {
    /// `None`: every kind; `Some(None)`: every kind but episodes; `Some(Some(k))`: kind `k`.
    pub(crate) kind: Option<Option<&'a str>>,
    pub(crate) text: Option<&'a str>,
    pub(crate) history: bool,
    pub(crate) newest: bool,
    pub(crate) offset: u64,
    pub(crate) limit: u64,
}

/// One page of an entity's memory rows as filtered, and how many match in all.
pub(crate) async fn memory_page(
    db: &Db,
    entity: EntityRow,
    f: &MemoryFilter<'_>,
) -> Result<(Vec<memories::Model>, u64)> {
    let mut q = memories::Entity::find().filter(memories::Column::EntityId.eq(entity.0));
    match f.kind {
        Some(Some(kind)) => q = q.filter(memories::Column::Kind.eq(kind)),
        Some(None) => q = q.filter(memories::Column::Kind.ne("episode")),
        None => {}
    }
    if !f.history {
        q = q.filter(memories::Column::InvalidatedAt.is_null());
    }
    if let Some(text) = f.text.filter(|t| !t.is_empty()) {
        q = q.filter(memories::Column::Text.like(containing(text)));
    }
    let total = q.clone().count(db).await.map_err(db_err("cannot count memories"))?;
    let q = if f.newest {
        q.order_by_desc(memories::Column::ValidFrom).order_by_desc(memories::Column::Id)
    } else {
        q.order_by_asc(memories::Column::ValidFrom).order_by_asc(memories::Column::Id)
    };
    let rows = q.offset(f.offset).limit(f.limit).all(db).await.map_err(db_err("cannot read memories"))?;
    Ok((rows, total))
}

/// One entity with the size of its data, for the entity list.
pub(crate) struct EntityEntry {
    pub(crate) row: EntityRow,
    pub(crate) external_id: String,
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
    pub(crate) sessions: u64,
    pub(crate) messages: u64,
    pub(crate) memories: u64,
}

/// `(entity_id, count)` for the given entities, from one grouped query on `E`.
async fn counts_by_entity<E, C>(
    db: &Db,
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
    db: &Db,
    search: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<EntityEntry>, u64)> {
    let mut q = entities::Entity::find();
    if let Some(s) = search.filter(|s| !s.is_empty()) {
        q = q.filter(entities::Column::ExternalId.like(containing(s)));
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
pub(crate) async fn entity(db: &Db, external_id: &str) -> Result<Option<EntityEntry>> {
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
async fn with_counts(db: &Db, page: Vec<entities::Model>) -> Result<Vec<EntityEntry>> {
    let ids: Vec<i64> = page.iter().map(|e| e.id).collect();
    let all = sea_orm::Condition::all();
    let s = counts_by_entity::<sessions::Entity, _>(db, sessions::Column::EntityId, &ids, all.clone()).await?;
    let m = counts_by_entity::<messages::Entity, _>(db, messages::Column::EntityId, &ids, all).await?;
    let live = sea_orm::Condition::all().add(memories::Column::InvalidatedAt.is_null());
    let mem = counts_by_entity::<memories::Entity, _>(db, memories::Column::EntityId, &ids, live).await?;
    Ok(page
        .into_iter()
        .map(|e| EntityEntry {
            sessions: s.get(&e.id).copied().unwrap_or(0),
            messages: m.get(&e.id).copied().unwrap_or(0),
            memories: mem.get(&e.id).copied().unwrap_or(0),
            row: EntityRow(e.id),
            external_id: e.external_id,
            created_at: e.created_at,
            last_seen_at: e.last_seen_at,
        })
        .collect())
}

/// A session of an entity with its process name and message count.
pub(crate) struct SessionEntry {
    pub(crate) external_id: String,
    pub(crate) process: String,
    pub(crate) summary: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
    pub(crate) messages: u64,
}

/// The sessions of an entity, most recent first.
pub(crate) async fn sessions_of(db: &Db, entity: EntityRow) -> Result<Vec<SessionEntry>> {
    let rows = sessions::Entity::find()
        .filter(sessions::Column::EntityId.eq(entity.0))
        .order_by_desc(sessions::Column::LastSeenAt)
        .order_by_desc(sessions::Column::Id)
        .all(db)
        .await
        .map_err(db_err("cannot read sessions"))?;
    let names = process_names(db, rows.iter().map(|r| r.process_id)).await?;
    // Dates are when the conversation happened (the messages' `said_at`, which an import
    // sets from the transcript), not when the rows were written.
    let spans: HashMap<i64, (u64, i64, i64)> = messages::Entity::find()
        .select_only()
        .column(messages::Column::SessionId)
        .column_as(messages::Column::Id.count(), "n")
        .column_as(messages::Column::SaidAt.min(), "first")
        .column_as(messages::Column::SaidAt.max(), "last")
        .filter(messages::Column::EntityId.eq(entity.0))
        .group_by(messages::Column::SessionId)
        .into_tuple::<(i64, i64, i64, i64)>()
        .all(db)
        .await
        .map_err(db_err("cannot count messages"))?
        .into_iter()
        .map(|(s, n, first, last)| (s, (n.max(0) as u64, first, last)))
        .collect();
    let mut entries: Vec<SessionEntry> = rows
        .into_iter()
        .map(|r| {
            let (messages, first, last) = spans.get(&r.id).copied().unwrap_or((0, r.created_at, r.last_seen_at));
            SessionEntry {
                messages,
                process: names.get(&r.process_id).cloned().unwrap_or_default(),
                external_id: r.external_id,
                summary: r.summary,
                created_at: first,
                last_seen_at: last,
            }
        })
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.last_seen_at));
    Ok(entries)
}

async fn process_names(db: &Db, ids: impl IntoIterator<Item = i64>) -> Result<HashMap<i64, String>> {
    super::external_ids::<processes::Entity, _>(db, (processes::Column::Id, processes::Column::ExternalId), ids).await
}

async fn session_names(db: &Db, ids: impl IntoIterator<Item = i64>) -> Result<HashMap<i64, String>> {
    super::external_ids::<sessions::Entity, _>(db, (sessions::Column::Id, sessions::Column::ExternalId), ids).await
}

/// A stored message as operators see it.
pub(crate) struct MessageEntry {
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

/// Messages as operators see them, with their session and process names.
pub(crate) async fn message_rows(db: &Db, rows: Vec<messages::Model>) -> Result<Vec<MessageEntry>> {
    let names = process_names(db, rows.iter().map(|r| r.process_id)).await?;
    let sessions = session_names(db, rows.iter().map(|r| r.session_id)).await?;
    Ok(rows
        .into_iter()
        .map(|r| MessageEntry {
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
    db: &Db,
    entity: EntityRow,
    session_external: &str,
) -> Result<Option<Vec<MessageEntry>>> {
    let Some(session) = sessions::Entity::find()
        .filter(sessions::Column::EntityId.eq(entity.0))
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
pub(crate) async fn sources_of(db: &Db, memory_id: i64) -> Result<Vec<MessageEntry>> {
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
pub(crate) async fn totals(db: &Db) -> Result<Totals> {
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
