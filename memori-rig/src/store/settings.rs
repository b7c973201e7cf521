//! Versioned settings: every save is a new row (`memori_settings.version` is unique), so the
//! history of changes is kept and two operators saving at once cannot both win. Each save also
//! writes an audit record.

use chrono::Utc;
use sea_orm::{ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryOrder, QuerySelect, Set};

use super::entity::settings;
use super::{Db, db_err, from_ms, ms};
use crate::error::{Error, ErrorKind, Result};

/// One saved version, its body still JSON.
pub(crate) struct SavedSettings {
    pub(crate) version: i64,
    pub(crate) body: String,
    pub(crate) saved_by: String,
    pub(crate) saved_at: chrono::DateTime<Utc>,
}

async fn newest_version<C: ConnectionTrait>(db: &C) -> Result<i64> {
    let v: Option<Option<i64>> = settings::Entity::find()
        .select_only()
        .expr(settings::Column::Version.max())
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read the settings version"))?;
    Ok(v.flatten().unwrap_or(0))
}

/// The newest settings version (0 when none was ever saved). One cheap query, made by every
/// process before it trusts its cached settings.
pub(crate) async fn latest_version(db: &Db) -> Result<i64> {
    newest_version(db).await
}

/// The newest saved version, if any.
pub(crate) async fn latest(db: &Db) -> Result<Option<SavedSettings>> {
    Ok(history(db, 1).await?.pop())
}

/// Saved versions, newest first.
pub(crate) async fn history(db: &Db, limit: u64) -> Result<Vec<SavedSettings>> {
    let rows: Vec<(i64, String, String, i64)> = settings::Entity::find()
        .select_only()
        .columns([
            settings::Column::Version,
            settings::Column::Body,
            settings::Column::CreatedBy,
            settings::Column::CreatedAt,
        ])
        .order_by_desc(settings::Column::Version)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("cannot read settings"))?;
    Ok(rows
        .into_iter()
        .map(|(version, body, saved_by, at)| SavedSettings { version, body, saved_by, saved_at: from_ms(at) })
        .collect())
}

/// Save a new version on top of `base` (the version the change was made to; `None` skips
/// the check) and audit it. Fails with [`ErrorKind::Conflict`] when someone saved since.
pub(crate) async fn save(db: &Db, base: Option<i64>, body: &str, actor: &str) -> Result<i64> {
    let txn = super::begin_write(db, "cannot begin settings write").await?;
    let current = newest_version(&txn).await?;
    if let Some(base) = base.filter(|b| *b != current) {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("settings were saved by someone else since version {base}; now at version {current}"),
        ));
    }
    let version = current + 1;
    // Two savers that read the same `current` collide on the unique version: one fails.
    settings::Entity::insert(settings::ActiveModel {
        id: NotSet,
        version: Set(version),
        body: Set(body.to_owned()),
        created_by: Set(actor.to_owned()),
        created_at: Set(ms(Utc::now())),
    })
    .exec_without_returning(&txn)
    .await
    .map_err(|e| {
        Error::new(ErrorKind::Conflict, format!("settings were saved concurrently; reload and retry ({e})"))
    })?;
    let details = serde_json::json!({ "version": version, "previous": current });
    super::audit::record(&txn, actor, "settings.save", "settings", Some(version.to_string()), details).await?;
    txn.commit().await.map_err(db_err("cannot commit settings"))?;
    Ok(version)
}
