//! What changed at which memory revision, so that a cached recall index can apply only the
//! changes since the revision it was built at instead of rebuilding: `revision` on memories and
//! graph edges (the entity's revision of the transaction that last wrote the row), and
//! `memori_memory_tombstones` for memories deleted since (a row without `memory_id` means "too
//! much changed: rebuild"). Tombstones hold ids only and go with the entity.

use sea_orm_migration::prelude::*;

use crate::columns::{big, big_null, cascade, id_pk};

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000001_recall_changes"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Memories::Table)
                .add_column(ColumnDef::new(Memories::Revision).big_integer().not_null().default(0))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("memori_memories_entity_revision")
                .table(Memories::Table)
                .col(Memories::EntityId)
                .col(Memories::Revision)
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(KgEdges::Table)
                .add_column(ColumnDef::new(KgEdges::Revision).big_integer().not_null().default(0))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("memori_kg_edges_entity_revision")
                .table(KgEdges::Table)
                .col(KgEdges::EntityId)
                .col(KgEdges::Revision)
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Tombstones::Table)
                .if_not_exists()
                .col(id_pk(Tombstones::Id))
                .col(big(Tombstones::EntityId))
                .col(big_null(Tombstones::MemoryId))
                .col(big(Tombstones::Revision))
                .foreign_key(&mut cascade(
                    "memori_memory_tombstones_entity",
                    Tombstones::Table,
                    Tombstones::EntityId,
                    Alias::new("memori_entities"),
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("memori_memory_tombstones_entity_revision")
                .table(Tombstones::Table)
                .col(Tombstones::EntityId)
                .col(Tombstones::Revision)
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Tombstones::Table).take()).await?;
        m.drop_index(Index::drop().name("memori_kg_edges_entity_revision").table(KgEdges::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(KgEdges::Table).drop_column(KgEdges::Revision).take()).await?;
        m.drop_index(Index::drop().name("memori_memories_entity_revision").table(Memories::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Memories::Table).drop_column(Memories::Revision).take()).await
    }
}

#[derive(DeriveIden)]
enum Memories {
    #[sea_orm(iden = "memori_memories")]
    Table,
    EntityId,
    Revision,
}

#[derive(DeriveIden)]
enum KgEdges {
    #[sea_orm(iden = "memori_kg_edges")]
    Table,
    EntityId,
    Revision,
}

#[derive(DeriveIden)]
enum Tombstones {
    #[sea_orm(iden = "memori_memory_tombstones")]
    Table,
    Id,
    EntityId,
    MemoryId,
    Revision,
}
