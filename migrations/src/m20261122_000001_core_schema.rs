//! The first schema: scopes, messages, memories, embeddings, the knowledge graph, jobs,
//! settings and the audit log.

use sea_orm_migration::prelude::*;

use crate::columns::{big, big_null, cascade, double, id_pk, int, long_blob, long_text, varchar, varchar_null};

/// Longest external id (entity, process, session, turn) the schema accepts, in bytes.
/// 255 `utf8mb4` characters still fit MySQL's 3072-byte index limit.
const ID_LEN: u32 = 255;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000001_core_schema"
    }
}

// async-trait's expansion needs the elided lifetime that rustc's idiom lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let b = m.get_database_backend();

        m.create_table(
            Table::create()
                .table(Entities::Table)
                .if_not_exists()
                .col(id_pk(Entities::Id))
                .col(varchar(Entities::ExternalId, ID_LEN).unique_key())
                .col(big(Entities::CreatedAt))
                .col(big(Entities::LastSeenAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Processes::Table)
                .if_not_exists()
                .col(id_pk(Processes::Id))
                .col(varchar(Processes::ExternalId, ID_LEN).unique_key())
                .col(big(Processes::CreatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .if_not_exists()
                .col(id_pk(Sessions::Id))
                .col(big(Sessions::EntityId))
                .col(big(Sessions::ProcessId))
                .col(varchar(Sessions::ExternalId, ID_LEN))
                .col(long_text(b, Sessions::Summary).null().take())
                .col(big(Sessions::CreatedAt))
                .col(big(Sessions::LastSeenAt))
                .foreign_key(&mut cascade(
                    "fk_memori_sessions_entity",
                    Sessions::Table,
                    Sessions::EntityId,
                    Entities::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_sessions_process",
                    Sessions::Table,
                    Sessions::ProcessId,
                    Processes::Table,
                ))
                .index(
                    Index::create()
                        .name("uq_memori_sessions_entity_ext")
                        .col(Sessions::EntityId)
                        .col(Sessions::ExternalId)
                        .unique(),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Messages::Table)
                .if_not_exists()
                .col(id_pk(Messages::Id))
                .col(big(Messages::EntityId))
                .col(big(Messages::SessionId))
                .col(big(Messages::ProcessId))
                .col(varchar(Messages::Role, 16))
                .col(varchar_null(Messages::Name, ID_LEN))
                .col(long_text(b, Messages::Parts).not_null().take())
                .col(long_text(b, Messages::Raw).null().take())
                .col(long_text(b, Messages::Text).not_null().take())
                .col(big(Messages::Position))
                .col(big(Messages::SaidAt))
                .col(big(Messages::CapturedAt))
                .col(varchar_null(Messages::RunId, 64))
                .col(varchar_null(Messages::ExternalId, ID_LEN))
                .col(varchar(Messages::Fingerprint, 64))
                .col(varchar(Messages::IdempotencyKey, ID_LEN).unique_key())
                .foreign_key(&mut cascade(
                    "fk_memori_messages_entity",
                    Messages::Table,
                    Messages::EntityId,
                    Entities::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_messages_session",
                    Messages::Table,
                    Messages::SessionId,
                    Sessions::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_messages_process",
                    Messages::Table,
                    Messages::ProcessId,
                    Processes::Table,
                ))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Memories::Table)
                .if_not_exists()
                .col(id_pk(Memories::Id))
                .col(big(Memories::EntityId))
                .col(big_null(Memories::SessionId))
                .col(big_null(Memories::ProcessId))
                .col(varchar(Memories::Kind, 16))
                .col(long_text(b, Memories::Text).not_null().take())
                .col(double(Memories::Importance))
                .col(double(Memories::Confidence))
                .col(int(Memories::MentionCount))
                .col(big(Memories::CreatedAt))
                .col(big(Memories::LastSeenAt))
                .col(big(Memories::ValidFrom))
                .col(big_null(Memories::ReferredAt))
                .col(big_null(Memories::InvalidatedAt))
                .col(big_null(Memories::InvalidatedBy))
                .col(varchar(Memories::DedupKey, ID_LEN))
                .foreign_key(&mut cascade(
                    "fk_memori_memories_entity",
                    Memories::Table,
                    Memories::EntityId,
                    Entities::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_memories_session",
                    Memories::Table,
                    Memories::SessionId,
                    Sessions::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_memories_process",
                    Memories::Table,
                    Memories::ProcessId,
                    Processes::Table,
                ))
                .index(
                    Index::create()
                        .name("uq_memori_memories_entity_dedup")
                        .col(Memories::EntityId)
                        .col(Memories::DedupKey)
                        .unique(),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(MemorySources::Table)
                .if_not_exists()
                .col(big(MemorySources::MemoryId))
                .col(big(MemorySources::MessageId))
                .col(big(MemorySources::EntityId))
                .primary_key(Index::create().col(MemorySources::MemoryId).col(MemorySources::MessageId))
                .foreign_key(&mut cascade(
                    "fk_memori_sources_memory",
                    MemorySources::Table,
                    MemorySources::MemoryId,
                    Memories::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_sources_message",
                    MemorySources::Table,
                    MemorySources::MessageId,
                    Messages::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_sources_entity",
                    MemorySources::Table,
                    MemorySources::EntityId,
                    Entities::Table,
                ))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Embeddings::Table)
                .if_not_exists()
                .col(big(Embeddings::MemoryId))
                .col(varchar(Embeddings::Model, 128))
                .col(big(Embeddings::EntityId))
                .col(int(Embeddings::Dim))
                .col(long_blob(b, Embeddings::Vector).not_null().take())
                .col(big(Embeddings::CreatedAt))
                .primary_key(Index::create().col(Embeddings::MemoryId).col(Embeddings::Model))
                .foreign_key(&mut cascade(
                    "fk_memori_embeddings_memory",
                    Embeddings::Table,
                    Embeddings::MemoryId,
                    Memories::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_embeddings_entity",
                    Embeddings::Table,
                    Embeddings::EntityId,
                    Entities::Table,
                ))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(KgNodes::Table)
                .if_not_exists()
                .col(id_pk(KgNodes::Id))
                .col(big(KgNodes::EntityId))
                .col(varchar(KgNodes::Name, ID_LEN))
                .col(varchar(KgNodes::Normalized, ID_LEN))
                .col(varchar(KgNodes::NodeType, 64))
                .col(big(KgNodes::CreatedAt))
                .foreign_key(&mut cascade(
                    "fk_memori_kg_nodes_entity",
                    KgNodes::Table,
                    KgNodes::EntityId,
                    Entities::Table,
                ))
                .index(
                    Index::create()
                        .name("uq_memori_kg_nodes_name")
                        .col(KgNodes::EntityId)
                        .col(KgNodes::Normalized)
                        .col(KgNodes::NodeType)
                        .unique(),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(KgEdges::Table)
                .if_not_exists()
                .col(id_pk(KgEdges::Id))
                .col(big(KgEdges::EntityId))
                .col(big(KgEdges::SourceId))
                .col(big(KgEdges::TargetId))
                .col(varchar(KgEdges::Predicate, ID_LEN))
                .col(big_null(KgEdges::MemoryId))
                .col(big(KgEdges::ValidFrom))
                .col(big_null(KgEdges::InvalidatedAt))
                .col(big(KgEdges::CreatedAt))
                .col(varchar(KgEdges::DedupKey, ID_LEN))
                .foreign_key(&mut cascade(
                    "fk_memori_kg_edges_entity",
                    KgEdges::Table,
                    KgEdges::EntityId,
                    Entities::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_kg_edges_source",
                    KgEdges::Table,
                    KgEdges::SourceId,
                    KgNodes::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_kg_edges_target",
                    KgEdges::Table,
                    KgEdges::TargetId,
                    KgNodes::Table,
                ))
                .foreign_key(&mut cascade(
                    "fk_memori_kg_edges_memory",
                    KgEdges::Table,
                    KgEdges::MemoryId,
                    Memories::Table,
                ))
                .index(
                    Index::create()
                        .name("uq_memori_kg_edges_dedup")
                        .col(KgEdges::EntityId)
                        .col(KgEdges::DedupKey)
                        .unique(),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Jobs::Table)
                .if_not_exists()
                .col(id_pk(Jobs::Id))
                .col(big_null(Jobs::EntityId))
                .col(varchar(Jobs::Kind, 32))
                .col(long_text(b, Jobs::Payload).not_null().take())
                .col(varchar(Jobs::Status, 16))
                .col(int(Jobs::Attempts))
                .col(int(Jobs::MaxAttempts))
                .col(big(Jobs::RunAfter))
                .col(big_null(Jobs::LeaseUntil))
                .col(varchar_null(Jobs::LockedBy, 64))
                .col(long_text(b, Jobs::LastError).null().take())
                .col(varchar(Jobs::IdempotencyKey, ID_LEN).unique_key())
                .col(big(Jobs::CreatedAt))
                .col(big(Jobs::UpdatedAt))
                .foreign_key(&mut cascade("fk_memori_jobs_entity", Jobs::Table, Jobs::EntityId, Entities::Table))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Settings::Table)
                .if_not_exists()
                .col(id_pk(Settings::Id))
                .col(big(Settings::Version).unique_key())
                .col(long_text(b, Settings::Body).not_null().take())
                .col(varchar(Settings::CreatedBy, ID_LEN))
                .col(big(Settings::CreatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .if_not_exists()
                .col(id_pk(AuditLog::Id))
                .col(big(AuditLog::At))
                .col(varchar(AuditLog::Actor, ID_LEN))
                .col(varchar(AuditLog::Action, 64))
                .col(varchar(AuditLog::TargetKind, 32))
                .col(varchar_null(AuditLog::TargetRef, ID_LEN))
                .col(long_text(b, AuditLog::Details).not_null().take())
                .take(),
        )
        .await?;

        // Non-unique indexes are separate statements: SQLite knows no inline INDEX clause.
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("ix_memori_messages_session_pos")
                .table(Messages::Table)
                .col(Messages::SessionId)
                .col(Messages::Position)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("ix_memori_messages_entity_said")
                .table(Messages::Table)
                .col(Messages::EntityId)
                .col(Messages::SaidAt)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("ix_memori_messages_entity_fp")
                .table(Messages::Table)
                .col(Messages::EntityId)
                .col(Messages::Fingerprint)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("ix_memori_memories_entity_live")
                .table(Memories::Table)
                .col(Memories::EntityId)
                .col(Memories::InvalidatedAt)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("ix_memori_sources_message")
                .table(MemorySources::Table)
                .col(MemorySources::MessageId)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("ix_memori_embeddings_entity_model")
                .table(Embeddings::Table)
                .col(Embeddings::EntityId)
                .col(Embeddings::Model)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .if_not_exists()
                .name("ix_memori_jobs_status_run")
                .table(Jobs::Table)
                .col(Jobs::Status)
                .col(Jobs::RunAfter)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create().if_not_exists().name("ix_memori_audit_at").table(AuditLog::Table).col(AuditLog::At).take(),
        )
        .await?;

        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Children first, so that foreign keys never block a drop.
        for table in [
            AuditLog::Table.into_iden(),
            Settings::Table.into_iden(),
            Jobs::Table.into_iden(),
            KgEdges::Table.into_iden(),
            KgNodes::Table.into_iden(),
            Embeddings::Table.into_iden(),
            MemorySources::Table.into_iden(),
            Memories::Table.into_iden(),
            Messages::Table.into_iden(),
            Sessions::Table.into_iden(),
            Processes::Table.into_iden(),
            Entities::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).if_exists().take()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Entities {
    #[sea_orm(iden = "memori_entities")]
    Table,
    Id,
    ExternalId,
    CreatedAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum Processes {
    #[sea_orm(iden = "memori_processes")]
    Table,
    Id,
    ExternalId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    #[sea_orm(iden = "memori_sessions")]
    Table,
    Id,
    EntityId,
    ProcessId,
    ExternalId,
    Summary,
    CreatedAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum Messages {
    #[sea_orm(iden = "memori_messages")]
    Table,
    Id,
    EntityId,
    SessionId,
    ProcessId,
    Role,
    Name,
    Parts,
    Raw,
    Text,
    Position,
    SaidAt,
    CapturedAt,
    RunId,
    ExternalId,
    Fingerprint,
    IdempotencyKey,
}

#[derive(DeriveIden)]
enum Memories {
    #[sea_orm(iden = "memori_memories")]
    Table,
    Id,
    EntityId,
    SessionId,
    ProcessId,
    Kind,
    Text,
    Importance,
    Confidence,
    MentionCount,
    CreatedAt,
    LastSeenAt,
    ValidFrom,
    ReferredAt,
    InvalidatedAt,
    InvalidatedBy,
    DedupKey,
}

#[derive(DeriveIden)]
enum MemorySources {
    #[sea_orm(iden = "memori_memory_sources")]
    Table,
    MemoryId,
    MessageId,
    EntityId,
}

#[derive(DeriveIden)]
enum Embeddings {
    #[sea_orm(iden = "memori_embeddings")]
    Table,
    MemoryId,
    Model,
    EntityId,
    Dim,
    Vector,
    CreatedAt,
}

#[derive(DeriveIden)]
enum KgNodes {
    #[sea_orm(iden = "memori_kg_nodes")]
    Table,
    Id,
    EntityId,
    Name,
    Normalized,
    NodeType,
    CreatedAt,
}

#[derive(DeriveIden)]
enum KgEdges {
    #[sea_orm(iden = "memori_kg_edges")]
    Table,
    Id,
    EntityId,
    SourceId,
    TargetId,
    Predicate,
    MemoryId,
    ValidFrom,
    InvalidatedAt,
    CreatedAt,
    DedupKey,
}

#[derive(DeriveIden)]
enum Jobs {
    #[sea_orm(iden = "memori_jobs")]
    Table,
    Id,
    EntityId,
    Kind,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    RunAfter,
    LeaseUntil,
    LockedBy,
    LastError,
    IdempotencyKey,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Settings {
    #[sea_orm(iden = "memori_settings")]
    Table,
    Id,
    Version,
    Body,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    #[sea_orm(iden = "memori_audit_log")]
    Table,
    Id,
    At,
    Actor,
    Action,
    TargetKind,
    TargetRef,
    Details,
}
