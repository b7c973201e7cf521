//! Dashboard operators: accounts (Argon2 hashes), API keys (SHA-256 of a random secret) and
//! browser sessions. None of these rows belongs to an end user, so none carries `entity_id`.

use sea_orm_migration::prelude::*;

use crate::columns::{big, big_null, id_pk, long_text, varchar, varchar_null};

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000001_operators"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let b = m.get_database_backend();
        m.create_table(
            Table::create()
                .table(Operators::Table)
                .if_not_exists()
                .col(id_pk(Operators::Id))
                .col(varchar(Operators::Name, 64).unique_key())
                .col(varchar(Operators::PasswordHash, 255))
                .col(varchar(Operators::Role, 16))
                .col(big(Operators::CreatedAt))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .if_not_exists()
                .col(id_pk(ApiKeys::Id))
                .col(varchar(ApiKeys::Name, 64))
                .col(varchar(ApiKeys::Prefix, 32).unique_key())
                .col(varchar(ApiKeys::SecretHash, 64))
                .col(varchar(ApiKeys::Role, 16))
                .col(varchar(ApiKeys::CreatedBy, 64))
                .col(big(ApiKeys::CreatedAt))
                .col(big_null(ApiKeys::LastUsedAt))
                .col(big_null(ApiKeys::RevokedAt))
                .take(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebSessions::Table)
                .if_not_exists()
                .col(varchar(WebSessions::Id, 64).primary_key())
                .col(long_text(b, WebSessions::Data).not_null().take())
                .col(big(WebSessions::ExpiresAt))
                .col(varchar_null(WebSessions::Operator, 64))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("ix_memori_web_sessions_expires")
                .table(WebSessions::Table)
                .col(WebSessions::ExpiresAt)
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [WebSessions::Table.into_iden(), ApiKeys::Table.into_iden(), Operators::Table.into_iden()] {
            m.drop_table(Table::drop().table(t).if_exists().take()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Operators {
    #[sea_orm(iden = "memori_operators")]
    Table,
    Id,
    Name,
    PasswordHash,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    #[sea_orm(iden = "memori_api_keys")]
    Table,
    Id,
    Name,
    Prefix,
    SecretHash,
    Role,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum WebSessions {
    #[sea_orm(iden = "memori_web_sessions")]
    Table,
    Id,
    Data,
    ExpiresAt,
    Operator,
}
