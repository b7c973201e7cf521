//! Column helpers shared by the migrations, so that one type choice holds on every backend.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A `BIGINT` auto-increment primary key named `id`.
pub(crate) fn id_pk<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().take()
}

/// A non-null `BIGINT` column (ids, epoch milliseconds).
pub(crate) fn big<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().take()
}

/// A nullable `BIGINT` column.
pub(crate) fn big_null<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).big_integer().null().take()
}

/// A non-null `VARCHAR(len)`.
pub(crate) fn varchar<T: IntoIden>(col: T, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().take()
}

/// A nullable `VARCHAR(len)`.
pub(crate) fn varchar_null<T: IntoIden>(col: T, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).null().take()
}

/// Unbounded text: `TEXT` on SQLite and PostgreSQL, `LONGTEXT` on MySQL.
pub(crate) fn long_text<T: IntoIden>(backend: DbBackend, col: T) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match backend {
        DbBackend::MySql => def.custom(Alias::new("LONGTEXT")),
        _ => def.text(),
    };
    def.take()
}

/// Unbounded binary: `BLOB` on SQLite, `BYTEA` on PostgreSQL, `LONGBLOB` on MySQL.
pub(crate) fn long_blob<T: IntoIden>(backend: DbBackend, col: T) -> ColumnDef {
    let mut def = ColumnDef::new(col);
    match backend {
        DbBackend::MySql => def.custom(Alias::new("LONGBLOB")),
        _ => def.blob(),
    };
    def.take()
}

/// A non-null `DOUBLE`.
pub(crate) fn double<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).double().not_null().take()
}

/// A non-null `INTEGER`.
pub(crate) fn int<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).integer().not_null().take()
}

/// A foreign key that cascades deletes (and updates) from `to_table.id`.
pub(crate) fn cascade(
    name: &str,
    from_table: impl IntoIden,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from_table, from_col)
        .to(to_table, Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .take()
}
