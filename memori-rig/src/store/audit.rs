//! The audit log: who changed what, when. Records are written in the transaction of the
//! change they describe and name the actor, the action and the target, with counts or field
//! names: never an end user's text.

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entity::audit_log;
use super::{Db, db_err, from_ms, ms};
use crate::error::Result;
use memori_types::admin::{AuditEntry, AuditQuery};

/// Append one audit record in the caller's transaction; returns its id.
pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &str,
    action: &str,
    target_kind: &str,
    target_ref: Option<String>,
    details: serde_json::Value,
) -> Result<i64> {
    let res = audit_log::Entity::insert(audit_log::ActiveModel {
        id: NotSet,
        at: Set(ms(chrono::Utc::now())),
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

/// Audit records, newest first, as `query` selects them.
pub(crate) async fn entries(db: &Db, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
    let mut q = audit_log::Entity::find();
    if let Some(b) = query.before {
        q = q.filter(audit_log::Column::Id.lt(b));
    }
    match query.action.as_deref() {
        // "auth." selects a family; LIKE's wildcards in the value are escaped by starts_with.
        Some(a) if a.ends_with('.') => q = q.filter(audit_log::Column::Action.starts_with(a)),
        Some(a) => q = q.filter(audit_log::Column::Action.eq(a)),
        None => {}
    }
    if let Some(actor) = &query.actor {
        q = q.filter(audit_log::Column::Actor.eq(actor.as_str()));
    }
    let rows = q
        .order_by_desc(audit_log::Column::Id)
        .limit(query.limit.unwrap_or(100).clamp(1, 1000))
        .all(db)
        .await
        .map_err(db_err("cannot read the audit log"))?;
    Ok(rows
        .into_iter()
        .map(|a| AuditEntry {
            id: a.id,
            at: from_ms(a.at),
            actor: a.actor,
            action: a.action,
            target_kind: a.target_kind,
            target_ref: a.target_ref,
            details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
        })
        .collect())
}
