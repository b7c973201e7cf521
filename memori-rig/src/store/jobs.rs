//! The durable job queue: rows in `memori_jobs`, claimed with a lease.
//!
//! A job is written in the same transaction as the data it is about, claimed by one worker
//! at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL and MariaDB, a conditional `UPDATE` that
//! also guards SQLite), and finished, retried with backoff, or turned into a dead letter.
//! A worker that dies leaves its lease to expire; the next claim takes the job over.
//! Handlers must therefore be idempotent: a job may run twice.

use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

use super::entity::jobs;
use super::{Db, EntityRow, db_err, from_ms};
use crate::error::Result;
use crate::model::{JobInfo, JobKind, JobStatus};

use JobStatus::{Dead, Done, Pending, Running};

/// A claimed job.
#[derive(Clone, Debug)]
pub(crate) struct Claimed {
    pub(crate) id: i64,
    pub(crate) kind: JobKind,
    pub(crate) payload: String,
    pub(crate) attempts: i32,
    pub(crate) max_attempts: i32,
}

/// Enqueue a job unless one with the same idempotency key exists. Returns its id when new.
pub(crate) async fn enqueue<C: ConnectionTrait>(
    db: &C,
    entity: Option<EntityRow>,
    kind: JobKind,
    payload: &str,
    idempotency_key: &str,
    now: i64,
    max_attempts: i32,
) -> Result<Option<i64>> {
    let row = jobs::ActiveModel {
        id: NotSet,
        entity_id: Set(entity.map(|e| e.0)),
        kind: Set(kind.as_str().to_owned()),
        payload: Set(payload.to_owned()),
        status: Set(Pending.as_str().to_owned()),
        attempts: Set(0),
        max_attempts: Set(max_attempts),
        run_after: Set(now),
        lease_until: Set(None),
        locked_by: Set(None),
        last_error: Set(None),
        idempotency_key: Set(idempotency_key.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    super::insert_new(db, row, &[jobs::Column::IdempotencyKey], "cannot enqueue job").await
}

fn claimable(now: i64) -> Condition {
    Condition::any()
        .add(Condition::all().add(jobs::Column::Status.eq(Pending.as_str())).add(jobs::Column::RunAfter.lte(now)))
        .add(Condition::all().add(jobs::Column::Status.eq(Running.as_str())).add(jobs::Column::LeaseUntil.lt(now)))
}

/// Claim the oldest runnable job (pending and due, or running with an expired lease).
pub(crate) async fn claim(db: &Db, worker: &str, now: i64, lease: Duration) -> Result<Option<Claimed>> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    for _ in 0..5 {
        // PostgreSQL and MariaDB: lock the row and skip rows other workers hold. SQLite has one
        // writer and no row locks; there a read transaction that later writes fails with
        // "database is locked" instead of waiting, so it reads outside a transaction and relies
        // on the conditional UPDATE below, which is atomic on every backend.
        let found = if sqlite {
            let job = find_claimable(db, now, false).await?;
            job.map(|j| (j, None))
        } else {
            let txn = db.begin().await.map_err(db_err("cannot begin claim"))?;
            find_claimable(&txn, now, true).await?.map(|j| (j, Some(txn)))
        };
        let Some((job, txn)) = found else { return Ok(None) };
        let update = jobs::Entity::update_many()
            .col_expr(jobs::Column::Status, Expr::value(Running.as_str()))
            .col_expr(jobs::Column::Attempts, Expr::col(jobs::Column::Attempts).add(1))
            .col_expr(jobs::Column::LeaseUntil, Expr::value(now + lease_ms))
            .col_expr(jobs::Column::LockedBy, Expr::value(worker))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .filter(jobs::Column::Id.eq(job.id))
            .filter(claimable(now));
        let updated = match txn {
            Some(txn) => {
                let r = update.exec(&txn).await.map_err(db_err("cannot claim job"))?;
                txn.commit().await.map_err(db_err("cannot commit claim"))?;
                r
            }
            None => update.exec(db).await.map_err(db_err("cannot claim job"))?,
        };
        if updated.rows_affected == 1 {
            return Ok(Some(Claimed {
                id: job.id,
                kind: JobKind::parse(&job.kind),
                payload: job.payload,
                attempts: job.attempts + 1,
                max_attempts: job.max_attempts,
            }));
        }
        // Another worker took it between our read and our update: look again.
    }
    Ok(None)
}

async fn find_claimable<C: ConnectionTrait>(db: &C, now: i64, lock: bool) -> Result<Option<jobs::Model>> {
    let mut q = jobs::Entity::find().filter(claimable(now)).order_by_asc(jobs::Column::Id).limit(1);
    if lock {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    q.one(db).await.map_err(db_err("cannot look for jobs"))
}

/// Mark a job done.
pub(crate) async fn complete(db: &Db, id: i64, now: i64) -> Result<()> {
    jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value(Done.as_str()))
        .col_expr(jobs::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(db_err("cannot finish job"))?;
    Ok(())
}

/// Record a failure: retry after `retry_in`, or make it a dead letter when attempts are spent.
pub(crate) async fn fail(db: &Db, job: &Claimed, error: &str, now: i64, retry_in: Duration) -> Result<bool> {
    let dead = job.attempts >= job.max_attempts;
    let retry_ms = i64::try_from(retry_in.as_millis()).unwrap_or(i64::MAX / 2);
    jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value(if dead { Dead.as_str() } else { Pending.as_str() }))
        .col_expr(jobs::Column::RunAfter, Expr::value(now + retry_ms))
        .col_expr(jobs::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(jobs::Column::LastError, Expr::value(error.chars().take(4000).collect::<String>()))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.eq(job.id))
        .exec(db)
        .await
        .map_err(db_err("cannot record job failure"))?;
    Ok(dead)
}

/// How many jobs are pending or running.
pub(crate) async fn outstanding(db: &Db) -> Result<u64> {
    jobs::Entity::find()
        .filter(jobs::Column::Status.is_in([Pending.as_str(), Running.as_str()]))
        .count(db)
        .await
        .map_err(db_err("cannot count jobs"))
}

/// Jobs waiting or running, and when the oldest waiting one was enqueued (ms), for the
/// queue-depth and augmentation-lag gauges.
pub(crate) async fn queue_state(db: &Db) -> Result<(u64, Option<i64>)> {
    let depth = outstanding(db).await?;
    let oldest: Option<Option<i64>> = jobs::Entity::find()
        .select_only()
        .column_as(Expr::col(jobs::Column::CreatedAt).min(), "oldest")
        .filter(jobs::Column::Status.eq(Pending.as_str()))
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("cannot read the job queue"))?;
    Ok((depth, oldest.flatten()))
}

/// How many jobs are dead letters.
pub(crate) async fn dead(db: &Db) -> Result<u64> {
    jobs::Entity::find()
        .filter(jobs::Column::Status.eq(Dead.as_str()))
        .count(db)
        .await
        .map_err(db_err("cannot count jobs"))
}

fn info(j: jobs::Model) -> JobInfo {
    JobInfo {
        id: j.id,
        kind: JobKind::parse(&j.kind),
        // A status this version does not write reads as a dead letter: it will not run.
        status: JobStatus::parse(&j.status).unwrap_or(Dead),
        attempts: j.attempts,
        max_attempts: j.max_attempts,
        last_error: j.last_error,
        created_at: from_ms(j.created_at),
        updated_at: from_ms(j.updated_at),
    }
}

/// Jobs, newest first, as operators see them; `status` filters.
pub(crate) async fn list(db: &Db, status: Option<JobStatus>, limit: u64) -> Result<Vec<JobInfo>> {
    let mut q = jobs::Entity::find().order_by_desc(jobs::Column::Id).limit(limit);
    if let Some(s) = status {
        q = q.filter(jobs::Column::Status.eq(s.as_str()));
    }
    let rows = q.all(db).await.map_err(db_err("cannot list jobs"))?;
    Ok(rows.into_iter().map(info).collect())
}

/// Jobs of one entity (for its export): id, kind, status and when each was enqueued.
pub(crate) async fn of_entity(db: &Db, entity: EntityRow) -> Result<Vec<JobInfo>> {
    let rows = jobs::Entity::find()
        .filter(jobs::Column::EntityId.eq(entity.0))
        .order_by_asc(jobs::Column::Id)
        .all(db)
        .await
        .map_err(db_err("cannot read jobs"))?;
    Ok(rows.into_iter().map(info).collect())
}

/// Make a dead (or pending) job runnable now with a fresh attempt budget. Returns whether a
/// job was changed; running and finished jobs are left alone.
pub(crate) async fn retry(db: &Db, id: Option<i64>, now: i64) -> Result<u64> {
    let mut q = jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value(Pending.as_str()))
        .col_expr(jobs::Column::Attempts, Expr::value(0))
        .col_expr(jobs::Column::RunAfter, Expr::value(now))
        .col_expr(jobs::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now));
    q = match id {
        Some(id) => q.filter(jobs::Column::Id.eq(id)).filter(jobs::Column::Status.is_in([
            Dead.as_str(),
            Pending.as_str(),
            Done.as_str(),
        ])),
        None => q.filter(jobs::Column::Status.eq(Dead.as_str())),
    };
    Ok(q.exec(db).await.map_err(db_err("cannot retry jobs"))?.rows_affected)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn db() -> Db {
        let db = crate::store::connect("sqlite::memory:").await.unwrap();
        crate::store::migrate(&db).await.unwrap();
        db
    }

    const LEASE: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn a_claimed_job_is_invisible_until_its_lease_expires() {
        let db = db().await;
        assert_eq!(enqueue(&db, None, JobKind::Augment, "{}", "k1", 1_000, 3).await.unwrap(), Some(1));
        assert_eq!(
            enqueue(&db, None, JobKind::Augment, "{}", "k1", 1_000, 3).await.unwrap(),
            None,
            "same key, no new job"
        );
        let first = claim(&db, "w1", 1_000, LEASE).await.unwrap().expect("a job");
        assert_eq!((first.id, first.attempts), (1, 1));
        assert!(claim(&db, "w2", 5_000, LEASE).await.unwrap().is_none(), "leased to w1");
        let taken_over = claim(&db, "w2", 11_001, LEASE).await.unwrap().expect("lease expired");
        assert_eq!((taken_over.id, taken_over.attempts), (1, 2));
        complete(&db, 1, 12_000).await.unwrap();
        assert_eq!(outstanding(&db).await.unwrap(), 0);
        assert!(claim(&db, "w3", 100_000, LEASE).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn failures_back_off_and_end_as_dead_letters() {
        let db = db().await;
        enqueue(&db, None, JobKind::Augment, "{}", "k", 0, 2).await.unwrap();
        let job = claim(&db, "w", 0, LEASE).await.unwrap().unwrap();
        assert!(!fail(&db, &job, "boom", 0, Duration::from_secs(5)).await.unwrap(), "1 of 2 attempts");
        assert!(claim(&db, "w", 4_999, LEASE).await.unwrap().is_none(), "not due before its backoff");
        let job = claim(&db, "w", 5_000, LEASE).await.unwrap().unwrap();
        assert_eq!(job.attempts, 2);
        assert!(fail(&db, &job, "boom again", 5_000, Duration::from_secs(5)).await.unwrap(), "attempts spent");
        assert_eq!((outstanding(&db).await.unwrap(), dead(&db).await.unwrap()), (0, 1));
        assert!(
            claim(&db, "w", 1_000_000, LEASE).await.unwrap().is_none(),
            "dead letters are not retried by themselves"
        );
    }
}
