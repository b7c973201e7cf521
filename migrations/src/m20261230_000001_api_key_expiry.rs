//! API keys expire: `expires_at` on `memori_api_keys` (milliseconds; `NULL` for the keys made
//! before keys had a lifetime, which keep working until revoked).

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261230_000001_api_key_expiry"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ApiKeys::Table)
                .add_column(ColumnDef::new(ApiKeys::ExpiresAt).big_integer().null())
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(ApiKeys::Table).drop_column(ApiKeys::ExpiresAt).take()).await
    }
}

#[derive(DeriveIden)]
enum ApiKeys {
    #[sea_orm(iden = "memori_api_keys")]
    Table,
    ExpiresAt,
}
