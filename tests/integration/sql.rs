//! Raw SQL for tests that look under the library: open a connection of their own, count an
//! entity's rows in every table, find text anywhere in the schema.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

/// A connection of the test's own to the database at `url`.
pub(crate) async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    Ok(Database::connect(url).await?)
}

/// The first column of the first row of `sql`, as an integer.
pub(crate) async fn scalar(db: &DatabaseConnection, sql: String) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no row"))?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// The rows an entity owns, by table (tables found in the schema: every one with `entity_id`).
pub(crate) async fn rows_of(db: &DatabaseConnection, entity_row: i64) -> anyhow::Result<Vec<(String, i64)>> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Sqlite => "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'entity_id' ORDER BY m.name"
            .to_owned(),
        sea_orm::DbBackend::Postgres => "SELECT table_name FROM information_schema.columns WHERE column_name = \
             'entity_id' AND table_schema = current_schema() ORDER BY table_name"
            .to_owned(),
        _ => "SELECT table_name FROM information_schema.columns WHERE column_name = 'entity_id' AND \
              table_schema = DATABASE() ORDER BY table_name"
            .to_owned(),
    };
    let mut out = Vec::new();
    for row in db.query_all_raw(Statement::from_string(backend, sql)).await? {
        let table: String = row.try_get_by_index(0)?;
        let n: i64 = db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) FROM {table} WHERE entity_id = {entity_row}"),
            ))
            .await?
            .map(|r| r.try_get_by_index(0))
            .transpose()?
            .unwrap_or(0);
        out.push((table, n));
    }
    assert!(out.len() >= 8, "the schema scan found too few tables: {out:?}");
    Ok(out)
}

/// Every `(table, column)` of the schema holding text, discovered from the database.
async fn text_columns(db: &DatabaseConnection) -> anyhow::Result<Vec<(String, String)>> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Sqlite => "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND (upper(p.type) LIKE '%TEXT%' OR upper(p.type) LIKE '%CHAR%')"
            .to_owned(),
        sea_orm::DbBackend::Postgres => "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'character')"
            .to_owned(),
        _ => "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = DATABASE() \
              AND data_type IN ('text', 'longtext', 'mediumtext', 'varchar', 'char')"
            .to_owned(),
    };
    let mut out = Vec::new();
    for row in db.query_all_raw(Statement::from_string(backend, sql)).await? {
        out.push((row.try_get_by_index::<String>(0)?, row.try_get_by_index::<String>(1)?));
    }
    assert!(out.len() > 20, "the schema scan found too few text columns: {out:?}");
    Ok(out)
}

/// Where in the whole database any of `needles` still appears, as `table.column: needle`.
pub(crate) async fn text_hits(db: &DatabaseConnection, needles: &[&str]) -> anyhow::Result<Vec<String>> {
    let backend = db.get_database_backend();
    let mut hits = Vec::new();
    for (table, column) in text_columns(db).await? {
        for needle in needles {
            let q = |c: &str| match backend {
                sea_orm::DbBackend::MySql => format!("`{c}`"),
                _ => format!("\"{c}\""),
            };
            let sql = format!(
                "SELECT COUNT(*) FROM {} WHERE {} LIKE {}",
                q(&table),
                q(&column),
                match backend {
                    sea_orm::DbBackend::Postgres => "$1",
                    _ => "?",
                }
            );
            let n: i64 = db
                .query_one_raw(Statement::from_sql_and_values(backend, sql, [format!("%{needle}%").into()]))
                .await?
                .map(|r| r.try_get_by_index(0))
                .transpose()?
                .unwrap_or(0);
            if n > 0 {
                hits.push(format!("{table}.{column}: {needle}"));
            }
        }
    }
    Ok(hits)
}

pub(crate) async fn entity_row(db: &DatabaseConnection, id: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            match db.get_database_backend() {
                sea_orm::DbBackend::Postgres => "SELECT id FROM memori_entities WHERE external_id = $1",
                _ => "SELECT id FROM memori_entities WHERE external_id = ?",
            },
            [id.into()],
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no entity {id}"))?;
    Ok(row.try_get_by_index(0)?)
}
