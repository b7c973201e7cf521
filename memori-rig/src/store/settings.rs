//! Versioned settings: every save is a new row (`memori_settings.version` is unique), so the
//! history of changes is kept and two operators saving at once cannot both win. Each save also
//! writes an audit record.

use chrono::Utc;
use sea_orm::{ActiveValue::NotSet, ColumnTrait, DatabaseConnection, EntityTrait, QueryOrder, QuerySelect, Set};

use super::entity::{audit_log, settings};
use super::{db_err, ms};
use crate::error::{Error, ErrorKind, Result};

/// The newest settings version (0 when none was ever saved). One cheap query, made by every
/// process before it trusts its cached settings.
pub(crate) async fn latest_version(db: &DatabaseConnection) -> Result<i64> {
    let v: Option<Option<i64>> = settings::Entity::find()
        .select_only()
        .expr(settings::Column::Version.max())
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read the settings version"))?;
    Ok(v.flatten().unwrap_or(0))
}

/// The newest settings body and its version.
pub(crate) async fn latest(db: &DatabaseConnection) -> Result<Option<(i64, String)>> {
    settings::Entity::find()
        .select_only()
        .columns([settings::Column::Version, settings::Column::Body])
        .order_by_desc(settings::Column::Version)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read settings"))
}

/// Every saved version, newest first: `(version, body, created_by, created_at ms)`.
pub(crate) async fn history(db: &DatabaseConnection, limit: u64) -> Result<Vec<(i64, String, String, i64)>> {
    settings::Entity::find()
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
        .map_err(db_err("cannot read settings history"))
}

/// Save a new version on top of `base` (the version the change was made to; `None` skips
/// the check) and audit it. Fails with [`ErrorKind::Conflict`] when someone saved since.
pub(crate) async fn save(db: &DatabaseConnection, base: Option<i64>, body: &str, actor: &str) -> Result<i64> {
    let txn = super::begin_write(db, "cannot begin settings write").await?;
    let current: Option<Option<i64>> = settings::Entity::find()
        .select_only()
        .expr(settings::Column::Version.max())
        .into_tuple()
        .one(&txn)
        .await
        .map_err(db_err("cannot read the settings version"))?;
    let current = current.flatten().unwrap_or(0);
    if base.is_some_and(|b| b != current) {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "settings were saved by someone else since version {}; now at version {current}",
                base.unwrap_or(0)
            ),
        ));
    }
    let version = current + 1;
    let now = ms(Utc::now());
    // Two savers that read the same `current` collide on the unique version: one fails.
    settings::Entity::insert(settings::ActiveModel {
        id: NotSet,
        version: Set(version),
        body: Set(body.to_owned()),
        created_by: Set(actor.to_owned()),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await
    .map_err(|e| {
        Error::new(ErrorKind::Conflict, format!("settings were saved concurrently; reload and retry ({e})"))
    })?;
    audit_log::Entity::insert(audit_log::ActiveModel {
        id: NotSet,
        at: Set(now),
        actor: Set(actor.to_owned()),
        action: Set("settings.save".into()),
        target_kind: Set("settings".into()),
        target_ref: Set(Some(version.to_string())),
        details: Set(serde_json::json!({ "version": version, "previous": current }).to_string()),
    })
    .exec_without_returning(&txn)
    .await
    .map_err(db_err("cannot write the audit log"))?;
    txn.commit().await.map_err(db_err("cannot commit settings"))?;
    Ok(version)
}
