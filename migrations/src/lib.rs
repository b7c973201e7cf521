//! Schema migrations for memori-rig, identical on SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! Migrations name their tables and columns with [`DeriveIden`] enums of their own and never
//! import the store's entities, so an old migration stays frozen while the entities evolve.
//!
//! Conventions that hold for every table (see `ARCHITECTURE.md`):
//! - times are `BIGINT` milliseconds since the Unix epoch, UTC: the same range, precision and
//!   ordering on all three backends (MySQL's `TIMESTAMP` stops in 2038 and drops milliseconds);
//! - JSON is stored as text that the store (de)serialises, not as a backend JSON type;
//! - long text is `LONGTEXT` on MySQL, whose `TEXT` holds only 64 KiB;
//! - every row that belongs to an end user carries `entity_id` with `ON DELETE CASCADE`,
//!   so erasing an entity is one `DELETE` that reaches every table.
#![warn(missing_docs)]

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261122_000001_core_schema;
mod m20261129_000001_memory_revision;
mod m20261206_000001_operators;
mod m20261207_000001_recall_changes;
mod m20261230_000001_api_key_expiry;

/// All migrations, oldest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_core_schema::Migration),
            Box::new(m20261129_000001_memory_revision::Migration),
            Box::new(m20261206_000001_operators::Migration),
            Box::new(m20261207_000001_recall_changes::Migration),
            Box::new(m20261230_000001_api_key_expiry::Migration),
        ]
    }
}
