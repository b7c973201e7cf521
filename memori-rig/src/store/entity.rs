//! sea-orm entities, one module per table. Hand-written to match `memori-migrations`;
//! The integration tests read and write every one of them on all three backends.

#![allow(missing_docs, unreachable_pub)]

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod entities {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_entities")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub external_id: String,
        pub created_at: i64,
        pub last_seen_at: i64,
        pub memory_revision: i64,
    }
    no_relations!();
}

pub mod processes {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_processes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub external_id: String,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod sessions {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_sessions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub entity_id: i64,
        pub process_id: i64,
        pub external_id: String,
        pub summary: Option<String>,
        pub created_at: i64,
        pub last_seen_at: i64,
    }
    no_relations!();
}

pub mod messages {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_messages")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub entity_id: i64,
        pub session_id: i64,
        pub process_id: i64,
        pub role: String,
        pub name: Option<String>,
        pub parts: String,
        pub raw: Option<String>,
        pub text: String,
        pub position: i64,
        pub said_at: i64,
        pub captured_at: i64,
        pub run_id: Option<String>,
        pub external_id: Option<String>,
        pub fingerprint: String,
        pub idempotency_key: String,
    }
    no_relations!();
}

pub mod memories {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_memories")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub entity_id: i64,
        pub session_id: Option<i64>,
        pub process_id: Option<i64>,
        pub kind: String,
        pub text: String,
        pub importance: f64,
        pub confidence: f64,
        pub mention_count: i32,
        pub created_at: i64,
        pub last_seen_at: i64,
        pub valid_from: i64,
        pub referred_at: Option<i64>,
        pub invalidated_at: Option<i64>,
        pub invalidated_by: Option<i64>,
        pub dedup_key: String,
        /// The entity's memory revision of the transaction that last wrote this row.
        pub revision: i64,
    }
    no_relations!();
}

impl memories::Model {
    /// A row read by column position, in the order of `Column::iter()` (no lookups by name).
    pub(crate) fn from_row_by_index(row: &sea_orm::QueryResult) -> Result<Self, sea_orm::DbErr> {
        Ok(Self {
            id: row.try_get_by_index(0)?,
            entity_id: row.try_get_by_index(1)?,
            session_id: row.try_get_by_index(2)?,
            process_id: row.try_get_by_index(3)?,
            kind: row.try_get_by_index(4)?,
            text: row.try_get_by_index(5)?,
            importance: row.try_get_by_index(6)?,
            confidence: row.try_get_by_index(7)?,
            mention_count: row.try_get_by_index(8)?,
            created_at: row.try_get_by_index(9)?,
            last_seen_at: row.try_get_by_index(10)?,
            valid_from: row.try_get_by_index(11)?,
            referred_at: row.try_get_by_index(12)?,
            invalidated_at: row.try_get_by_index(13)?,
            invalidated_by: row.try_get_by_index(14)?,
            dedup_key: row.try_get_by_index(15)?,
            revision: row.try_get_by_index(16)?,
        })
    }
}

pub mod memory_tombstones {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_memory_tombstones")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub entity_id: i64,
        /// The memory deleted; `None`: too much changed at this revision, rebuild.
        pub memory_id: Option<i64>,
        pub revision: i64,
    }
    no_relations!();
}

pub mod memory_sources {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_memory_sources")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub memory_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub message_id: i64,
        pub entity_id: i64,
    }
    no_relations!();
}

pub mod embeddings {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_embeddings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub memory_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub model: String,
        pub entity_id: i64,
        pub dim: i32,
        pub vector: Vec<u8>,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod kg_nodes {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_kg_nodes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub entity_id: i64,
        pub name: String,
        pub normalized: String,
        pub node_type: String,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod kg_edges {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_kg_edges")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub entity_id: i64,
        pub source_id: i64,
        pub target_id: i64,
        pub predicate: String,
        pub memory_id: Option<i64>,
        pub valid_from: i64,
        pub invalidated_at: Option<i64>,
        pub created_at: i64,
        pub dedup_key: String,
        /// The entity's memory revision of the transaction that last wrote this row.
        pub revision: i64,
    }
    no_relations!();
}

pub mod jobs {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_jobs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub entity_id: Option<i64>,
        pub kind: String,
        pub payload: String,
        pub status: String,
        pub attempts: i32,
        pub max_attempts: i32,
        pub run_after: i64,
        pub lease_until: Option<i64>,
        pub locked_by: Option<String>,
        pub last_error: Option<String>,
        pub idempotency_key: String,
        pub created_at: i64,
        pub updated_at: i64,
    }
    no_relations!();
}

pub mod settings {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_settings")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub version: i64,
        pub body: String,
        pub created_by: String,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod audit_log {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_audit_log")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: i64,
        pub actor: String,
        pub action: String,
        pub target_kind: String,
        pub target_ref: Option<String>,
        pub details: String,
    }
    no_relations!();
}

pub mod operators {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_operators")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub password_hash: String,
        pub role: String,
        pub created_at: i64,
    }
    no_relations!();
}

pub mod api_keys {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_api_keys")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub prefix: String,
        pub secret_hash: String,
        pub role: String,
        pub created_by: String,
        pub created_at: i64,
        pub last_used_at: Option<i64>,
        pub revoked_at: Option<i64>,
        pub expires_at: Option<i64>,
    }
    no_relations!();
}

pub mod web_sessions {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memori_web_sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub data: String,
        pub expires_at: i64,
        pub operator: Option<String>,
    }
    no_relations!();
}
