//! `memori_entities.memory_revision`: a counter that every write to an entity's memories,
//! embeddings, sources or graph increments in the same transaction. Recall caches an entity's
//! index with the revision it was read at and rebuilds when another writer (in this process or
//! any other sharing the database) has moved it on.

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000001_memory_revision"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Entities::Table)
                .add_column(ColumnDef::new(Entities::MemoryRevision).big_integer().not_null().default(0))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Entities::Table).drop_column(Entities::MemoryRevision).take()).await
    }
}

#[derive(DeriveIden)]
enum Entities {
    #[sea_orm(iden = "memori_entities")]
    Table,
    MemoryRevision,
}
