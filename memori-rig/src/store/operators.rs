//! Dashboard operators, API keys and browser sessions. The store keeps hashes and opaque
//! session records; hashing and checking happen in the dashboard.

use memori_types::admin::OperatorRole;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::audit::record as audit;
use super::entity::{api_keys, operators, web_sessions};
use super::{Db, db_err, ms};
use crate::error::{Error, ErrorKind, Result};

pub(crate) use api_keys::Model as ApiKeyRow;
pub(crate) use operators::Model as OperatorRow;

/// Add an operator, or replace the password and role of an existing one (audited).
pub(crate) async fn upsert_operator(
    db: &Db,
    name: &str,
    password_hash: &str,
    role: OperatorRole,
    actor: &str,
) -> Result<bool> {
    let txn = super::begin_write(db, "cannot begin operator write").await?;
    let existing = operators::Entity::find()
        .filter(operators::Column::Name.eq(name))
        .one(&txn)
        .await
        .map_err(db_err("cannot read operator"))?;
    let created = existing.is_none();
    match existing {
        Some(row) => {
            operators::Entity::update(operators::ActiveModel {
                id: Set(row.id),
                password_hash: Set(password_hash.to_owned()),
                role: Set(role.as_str().to_owned()),
                ..Default::default()
            })
            .exec(&txn)
            .await
            .map_err(db_err("cannot update operator"))?;
        }
        None => {
            operators::Entity::insert(operators::ActiveModel {
                id: NotSet,
                name: Set(name.to_owned()),
                password_hash: Set(password_hash.to_owned()),
                role: Set(role.as_str().to_owned()),
                created_at: Set(ms(chrono::Utc::now())),
            })
            .exec_without_returning(&txn)
            .await
            .map_err(db_err("cannot add operator"))?;
        }
    }
    let action = if created { "operator.add" } else { "operator.reset" };
    let details = serde_json::json!({ "role": role.as_str() });
    audit(&txn, actor, action, "operator", Some(name.to_owned()), details).await?;
    txn.commit().await.map_err(db_err("cannot commit operator"))?;
    Ok(created)
}

/// An operator by name.
pub(crate) async fn operator(db: &Db, name: &str) -> Result<Option<OperatorRow>> {
    operators::Entity::find()
        .filter(operators::Column::Name.eq(name))
        .one(db)
        .await
        .map_err(db_err("cannot read operator"))
}

/// Every operator, by name.
pub(crate) async fn all_operators(db: &Db) -> Result<Vec<OperatorRow>> {
    operators::Entity::find()
        .order_by_asc(operators::Column::Name)
        .all(db)
        .await
        .map_err(db_err("cannot list operators"))
}

/// Store a new API key (its prefix is public, its secret only as a hash), audited.
pub(crate) async fn insert_api_key(
    db: &Db,
    name: &str,
    prefix: &str,
    secret_hash: &str,
    role: OperatorRole,
    expires_at: Option<i64>,
    actor: &str,
) -> Result<i64> {
    let txn = super::begin_write(db, "cannot begin API key write").await?;
    let res = api_keys::Entity::insert(api_keys::ActiveModel {
        id: NotSet,
        name: Set(name.to_owned()),
        prefix: Set(prefix.to_owned()),
        secret_hash: Set(secret_hash.to_owned()),
        role: Set(role.as_str().to_owned()),
        created_by: Set(actor.to_owned()),
        created_at: Set(ms(chrono::Utc::now())),
        last_used_at: Set(None),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
    })
    .exec(&txn)
    .await
    .map_err(db_err("cannot store API key"))?;
    let id = res.last_insert_id;
    let expires = expires_at.map(|t| super::from_ms(t).to_rfc3339());
    let details = serde_json::json!({ "name": name, "role": role.as_str(), "prefix": prefix, "expires_at": expires });
    audit(&txn, actor, "api_key.create", "api_key", Some(id.to_string()), details).await?;
    txn.commit().await.map_err(db_err("cannot commit API key"))?;
    Ok(id)
}

/// Every API key, newest first.
pub(crate) async fn api_keys(db: &Db) -> Result<Vec<ApiKeyRow>> {
    api_keys::Entity::find().order_by_desc(api_keys::Column::Id).all(db).await.map_err(db_err("cannot list API keys"))
}

/// The API key with this public prefix.
pub(crate) async fn api_key_by_prefix(db: &Db, prefix: &str) -> Result<Option<ApiKeyRow>> {
    api_keys::Entity::find()
        .filter(api_keys::Column::Prefix.eq(prefix))
        .one(db)
        .await
        .map_err(db_err("cannot read API key"))
}

/// Note that a key was used (best effort: a failure here never rejects the request).
pub(crate) async fn touch_api_key(db: &Db, id: i64) -> Result<()> {
    api_keys::Entity::update_many()
        .col_expr(api_keys::Column::LastUsedAt, sea_orm::sea_query::Expr::value(ms(chrono::Utc::now())))
        .filter(api_keys::Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(db_err("cannot update API key"))?;
    Ok(())
}

/// Revoke a key, audited. `false` when there is no such live key.
pub(crate) async fn revoke_api_key(db: &Db, id: i64, actor: &str) -> Result<bool> {
    let txn = super::begin_write(db, "cannot begin API key revoke").await?;
    let n = api_keys::Entity::update_many()
        .col_expr(api_keys::Column::RevokedAt, sea_orm::sea_query::Expr::value(ms(chrono::Utc::now())))
        .filter(api_keys::Column::Id.eq(id))
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(&txn)
        .await
        .map_err(db_err("cannot revoke API key"))?
        .rows_affected;
    if n > 0 {
        audit(&txn, actor, "api_key.revoke", "api_key", Some(id.to_string()), serde_json::json!({})).await?;
    }
    txn.commit().await.map_err(db_err("cannot commit API key revoke"))?;
    Ok(n > 0)
}

/// A browser session record's data; `None` when missing or expired.
pub(crate) async fn load_web_session(db: &Db, id: &str) -> Result<Option<String>> {
    let row =
        web_sessions::Entity::find_by_id(id.to_owned()).one(db).await.map_err(db_err("cannot read web session"))?;
    Ok(row.filter(|r| r.expires_at > ms(chrono::Utc::now())).map(|r| r.data))
}

fn session_row(id: &str, data: &str, expires_at: i64, operator: Option<&str>) -> web_sessions::ActiveModel {
    web_sessions::ActiveModel {
        id: Set(id.to_owned()),
        data: Set(data.to_owned()),
        expires_at: Set(expires_at),
        operator: Set(operator.map(str::to_owned)),
    }
}

/// Insert a new session record; fails with [`ErrorKind::Conflict`] if the id is taken.
pub(crate) async fn create_web_session(
    db: &Db,
    id: &str,
    data: &str,
    expires_at: i64,
    operator: Option<&str>,
) -> Result<()> {
    let inserted =
        web_sessions::Entity::insert(session_row(id, data, expires_at, operator)).exec_without_returning(db).await;
    match inserted {
        Ok(_) => Ok(()),
        // Only a taken id is a conflict; any other failure is the database's.
        Err(e) => match web_sessions::Entity::find_by_id(id.to_owned()).one(db).await {
            Ok(Some(_)) => Err(Error::new(ErrorKind::Conflict, "session id already taken")),
            _ => Err(Error::database("cannot create web session", e)),
        },
    }
}

/// Insert or replace a session record.
pub(crate) async fn save_web_session(
    db: &Db,
    id: &str,
    data: &str,
    expires_at: i64,
    operator: Option<&str>,
) -> Result<()> {
    web_sessions::Entity::insert(session_row(id, data, expires_at, operator))
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(web_sessions::Column::Id)
                .update_columns([
                    web_sessions::Column::Data,
                    web_sessions::Column::ExpiresAt,
                    web_sessions::Column::Operator,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(db_err("cannot save web session"))?;
    Ok(())
}

/// Delete a session record.
pub(crate) async fn delete_web_session(db: &Db, id: &str) -> Result<()> {
    web_sessions::Entity::delete_by_id(id.to_owned()).exec(db).await.map_err(db_err("cannot delete web session"))?;
    Ok(())
}

/// Delete expired session records; returns how many.
pub(crate) async fn delete_expired_web_sessions(db: &Db) -> Result<u64> {
    Ok(web_sessions::Entity::delete_many()
        .filter(web_sessions::Column::ExpiresAt.lte(ms(chrono::Utc::now())))
        .exec(db)
        .await
        .map_err(db_err("cannot delete expired web sessions"))?
        .rows_affected)
}
