//! Operator features: browse entities, sessions and memories; correct or delete a memory;
//! erase or export an entity; apply retention; read the audit log; manage the dashboard's
//! operators, API keys and browser sessions. The dashboard's JSON API calls these; so can any
//! program (a deletion request handled by a script, for example).
//!
//! Every change writes an audit record in the same transaction, naming the actor and never
//! an end user's text.

use std::collections::BTreeMap;

use chrono::Utc;

pub use memori_types::admin::*;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Memory, MemoryKind};
use crate::scope::{EntityId, ProcessId};
use crate::store::{self, admin as q, from_ms, operators as ops};
use crate::{MAX_MEMORY_TEXT_BYTES, Memori};

fn summary(r: q::EntityRow) -> EntitySummary {
    EntitySummary {
        id: r.external_id,
        created_at: from_ms(r.created_at),
        last_seen_at: from_ms(r.last_seen_at),
        sessions: r.sessions,
        messages: r.messages,
        memories: r.memories,
    }
}

fn transcript_message(r: q::MessageRow) -> TranscriptMessage {
    TranscriptMessage {
        id: r.id,
        session: r.session,
        process: r.process,
        role: r.role,
        name: r.name,
        parts: r.parts,
        text: r.text,
        position: r.position,
        said_at: from_ms(r.said_at),
        external_id: r.external_id,
    }
}

fn not_found(what: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("no such {what}"))
}

/// An operator account as stored: name, Argon2 PHC hash, role, creation time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorRecord {
    /// Name (1 to 64 characters).
    pub name: String,
    /// The password's PHC-format hash (the dashboard uses Argon2id).
    pub password_hash: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// When added.
    pub created_at: chrono::DateTime<Utc>,
}

/// An API key as stored: its secret only as a hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Key id.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// Public prefix, unique.
    pub prefix: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: chrono::DateTime<Utc>,
    /// Last use.
    pub last_used_at: Option<chrono::DateTime<Utc>>,
    /// When revoked.
    pub revoked_at: Option<chrono::DateTime<Utc>>,
}

impl From<ops::OperatorRow> for OperatorRecord {
    fn from(r: ops::OperatorRow) -> Self {
        OperatorRecord { name: r.name, password_hash: r.password_hash, role: r.role, created_at: from_ms(r.created_at) }
    }
}

impl From<ops::ApiKeyRow> for ApiKeyRecord {
    fn from(r: ops::ApiKeyRow) -> Self {
        ApiKeyRecord {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            secret_hash: r.secret_hash,
            role: r.role,
            created_by: r.created_by,
            created_at: from_ms(r.created_at),
            last_used_at: r.last_used_at.map(from_ms),
            revoked_at: r.revoked_at.map(from_ms),
        }
    }
}

impl Memori {
    /// Entities whose id contains `search`, most recently active first.
    pub async fn list_entities(&self, search: Option<&str>, offset: u64, limit: u64) -> Result<Page<EntitySummary>> {
        let limit = limit.clamp(1, 500);
        let (rows, total) = q::list_entities(self.connection(), search, offset, limit).await?;
        Ok(Page { items: rows.into_iter().map(summary).collect(), total, offset, limit })
    }

    /// One entity with its sessions and every memory (invalidated ones included).
    pub async fn entity_detail(&self, entity: &EntityId) -> Result<EntityDetail> {
        let row = q::entity(self.connection(), entity.as_str()).await?.ok_or_else(|| not_found("entity"))?;
        let sessions = self.sessions_of_row(row.id).await?;
        let memories = self.memories(entity, true).await?;
        Ok(EntityDetail { entity: summary(row), sessions, memories })
    }

    async fn sessions_of_row(&self, entity_row: i64) -> Result<Vec<SessionInfo>> {
        Ok(q::sessions_of(self.connection(), entity_row)
            .await?
            .into_iter()
            .map(|s| SessionInfo {
                id: s.external_id,
                process: s.process,
                messages: s.messages,
                summary: s.summary,
                created_at: from_ms(s.created_at),
                last_seen_at: from_ms(s.last_seen_at),
            })
            .collect())
    }

    /// The messages of one session, in order, tool calls and results included.
    pub async fn transcript(&self, entity: &EntityId, session: &str) -> Result<Vec<TranscriptMessage>> {
        let row = store::entity_row_id(self.connection(), entity).await?.ok_or_else(|| not_found("entity"))?;
        let rows = q::transcript(self.connection(), row, session).await?.ok_or_else(|| not_found("session"))?;
        Ok(rows.into_iter().map(transcript_message).collect())
    }

    /// One memory, its entity, its source messages and what invalidated it.
    pub async fn memory_detail(&self, memory_id: i64) -> Result<MemoryDetail> {
        let db = self.connection();
        let (entity_row, entity) = q::memory_owner(db, memory_id).await?.ok_or_else(|| not_found("memory"))?;
        let all = store::candidates(db, entity_row, self.embedder().model_id(), None, true).await?;
        let find = |id: i64| all.iter().find(|c| c.memory.id == id).map(|c| c.memory.clone());
        let memory = find(memory_id).ok_or_else(|| not_found("memory"))?;
        let invalidated_by = memory.invalidated_by.and_then(find);
        let sources = q::sources_of(db, memory_id).await?.into_iter().map(transcript_message).collect();
        Ok(MemoryDetail { entity, memory, sources, invalidated_by })
    }

    /// Correct a memory (text, kind, importance), audited under `actor`. A new text is
    /// embedded before anything is written, so a failing embedder changes nothing.
    pub async fn update_memory(&self, memory_id: i64, patch: MemoryPatch, actor: &str) -> Result<Memory> {
        if let Some(text) = &patch.text {
            let text = text.trim();
            if text.is_empty() || text.len() > MAX_MEMORY_TEXT_BYTES {
                return Err(Error::invalid_input(format!(
                    "a memory's text must be 1 to {MAX_MEMORY_TEXT_BYTES} bytes, got {}",
                    text.len()
                )));
            }
        }
        if let Some(i) = patch.importance
            && !(0.0..=1.0).contains(&i)
        {
            return Err(Error::invalid_input(format!("importance must be between 0 and 1, not {i}")));
        }
        if patch.kind == Some(MemoryKind::Episode) {
            return Err(Error::invalid_input("a memory cannot be turned into an episode (episodes are messages)"));
        }
        let text = patch.text.as_deref().map(str::trim).map(str::to_owned);
        let embedding = match &text {
            Some(t) => {
                let v = self.embedder().embed(vec![t.clone()]).await?.pop().ok_or_else(|| {
                    Error::new(ErrorKind::Embedding, "the embedder returned no vector for the new text")
                })?;
                Some((self.embedder().model_id().to_owned(), v.len() as i32, store::encode_vector(&v)))
            }
            None => None,
        };
        let update = q::MemoryUpdate {
            text,
            kind: patch.kind.map(|k| k.as_str().to_owned()),
            importance: patch.importance,
            embedding,
        };
        if !q::update_memory(self.connection(), memory_id, update, actor).await? {
            return Err(not_found("memory"));
        }
        Ok(self.memory_detail(memory_id).await?.memory)
    }

    /// Delete one memory with its embeddings, sources and graph edges, audited.
    pub async fn delete_memory(&self, memory_id: i64, actor: &str) -> Result<()> {
        if q::delete_memory(self.connection(), memory_id, actor).await? { Ok(()) } else { Err(not_found("memory")) }
    }

    /// Erase an entity and everything stored about it (sessions, messages, summaries,
    /// memories, sources, embeddings, graph, jobs) in one transaction. The audit record and
    /// the receipt hold counts only: the entity's id is personal data and is not kept.
    pub async fn erase_entity(&self, entity: &EntityId, actor: &str) -> Result<ErasureReceipt> {
        let (audit_id, removed) =
            q::erase_entity(self.connection(), entity.as_str(), actor).await?.ok_or_else(|| not_found("entity"))?;
        Ok(ErasureReceipt { audit_id: Some(audit_id), erased_at: Utc::now(), removed })
    }

    /// Everything stored about an entity, for a data-access request.
    pub async fn export_entity(&self, entity: &EntityId) -> Result<EntityExport> {
        let db = self.connection();
        let row = q::entity(db, entity.as_str()).await?.ok_or_else(|| not_found("entity"))?;
        let entity_row = row.id;
        let sessions = self.sessions_of_row(entity_row).await?;
        let memories = self.memories(entity, true).await?;
        let rows = q::export_rows(db, entity_row).await?;
        let graph = self.graph_view(entity, true).await?;
        Ok(EntityExport {
            format: "memori-export/1".into(),
            exported_at: Utc::now(),
            entity: summary(row),
            sessions,
            messages: rows.messages.into_iter().map(transcript_message).collect(),
            memories,
            embeddings: rows
                .embeddings
                .into_iter()
                .map(|(memory_id, model, bytes)| ExportedEmbedding {
                    memory_id,
                    model,
                    vector: store::decode_vector(&bytes),
                })
                .collect(),
            graph,
            jobs: rows
                .jobs
                .into_iter()
                .map(|(id, kind, status, at)| ExportedJob { id, kind, status, created_at: from_ms(at) })
                .collect(),
        })
    }

    /// An entity's knowledge graph as plain nodes and edges (for display and export).
    pub async fn graph_view(&self, entity: &EntityId, history: bool) -> Result<GraphView> {
        let g = self.graph(entity, history).await?;
        Ok(GraphView { nodes: g.nodes().cloned().collect(), edges: g.edges().cloned().collect() })
    }

    /// Counts, queue health and the latest audit records.
    pub async fn overview(&self) -> Result<Overview> {
        let t = q::totals(self.connection()).await?;
        let count = |s: &str| t.jobs.get(s).copied().unwrap_or(0);
        let mut failing = self.jobs(Some("dead"), 20).await?;
        failing.extend(self.jobs(Some("pending"), 50).await?.into_iter().filter(|j| j.last_error.is_some()).take(20));
        Ok(Overview {
            entities: t.entities,
            sessions: t.sessions,
            messages: t.messages,
            memories: t.memories,
            invalidated: t.invalidated,
            graph_edges: t.edges,
            jobs: JobCounts {
                pending: count("pending"),
                running: count("running"),
                done: count("done"),
                dead: count("dead"),
            },
            failing_jobs: failing,
            recent: self.audit_log(None, 10).await?,
        })
    }

    /// Audit records, newest first; `before` pages back from a record id.
    pub async fn audit_log(&self, before: Option<i64>, limit: u64) -> Result<Vec<AuditEntry>> {
        Ok(q::audit_entries(self.connection(), before, limit.clamp(1, 1000))
            .await?
            .into_iter()
            .map(|a| AuditEntry {
                id: a.id,
                at: from_ms(a.at),
                actor: a.actor,
                action: a.action,
                target_kind: a.target_kind,
                target_ref: a.target_ref,
                details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    /// Apply the saved retention policy now (see [`crate::RetentionPolicy`]), audited.
    pub async fn apply_retention(&self, actor: &str) -> Result<RetentionReceipt> {
        let (_, settings) = self.settings().await?;
        let policy = settings.retention;
        let now = Utc::now();
        let cutoff = |days: u32| store::ms(now - chrono::Duration::days(i64::from(days)));
        let mut per_process = BTreeMap::new();
        for (process, days) in &policy.processes {
            ProcessId::new(process.clone())?;
            per_process.insert(process.clone(), cutoff(*days));
        }
        let removed = q::apply_retention(self.connection(), &per_process, policy.days.map(cutoff), actor).await?;
        Ok(RetentionReceipt { applied_at: now, removed })
    }

    /// Add an operator, or replace an existing one's password hash and role. Returns `true`
    /// when the operator is new.
    pub async fn put_operator(&self, name: &str, password_hash: &str, role: &str, actor: &str) -> Result<bool> {
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(Error::invalid_input("an operator name must be 1 to 64 characters, no control characters"));
        }
        ops::upsert_operator(self.connection(), name, password_hash, role, actor).await
    }

    /// An operator by name.
    pub async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>> {
        Ok(ops::operator(self.connection(), name).await?.map(Into::into))
    }

    /// Every operator.
    pub async fn operators(&self) -> Result<Vec<OperatorRecord>> {
        Ok(ops::all_operators(self.connection()).await?.into_iter().map(Into::into).collect())
    }

    /// Store an API key (the caller made the secret and hashed it). Returns its id.
    pub async fn create_api_key(
        &self,
        name: &str,
        prefix: &str,
        secret_hash: &str,
        role: &str,
        actor: &str,
    ) -> Result<i64> {
        ops::insert_api_key(self.connection(), name, prefix, secret_hash, role, actor).await
    }

    /// Every API key, newest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        Ok(ops::api_keys(self.connection()).await?.into_iter().map(Into::into).collect())
    }

    /// The API key with this prefix, revoked or not.
    pub async fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>> {
        Ok(ops::api_key_by_prefix(self.connection(), prefix).await?.map(Into::into))
    }

    /// Record that a key was used.
    pub async fn touch_api_key(&self, id: i64) -> Result<()> {
        ops::touch_api_key(self.connection(), id).await
    }

    /// Revoke an API key, audited. Fails with [`ErrorKind::NotFound`] for an unknown or
    /// already revoked key.
    pub async fn revoke_api_key(&self, id: i64, actor: &str) -> Result<()> {
        if ops::revoke_api_key(self.connection(), id, actor).await? { Ok(()) } else { Err(not_found("live API key")) }
    }

    /// A browser session's stored record, unless missing or expired.
    pub async fn web_session(&self, id: &str) -> Result<Option<String>> {
        ops::load_web_session(self.connection(), id).await
    }

    /// Store a new browser session record; [`ErrorKind::Conflict`] when the id exists.
    pub async fn create_web_session(
        &self,
        id: &str,
        data: &str,
        expires_at: i64,
        operator: Option<&str>,
    ) -> Result<()> {
        ops::create_web_session(self.connection(), id, data, expires_at, operator).await
    }

    /// Store or replace a browser session record (`expires_at` in ms since the epoch).
    pub async fn save_web_session(&self, id: &str, data: &str, expires_at: i64, operator: Option<&str>) -> Result<()> {
        ops::save_web_session(self.connection(), id, data, expires_at, operator).await
    }

    /// Delete a browser session record.
    pub async fn delete_web_session(&self, id: &str) -> Result<()> {
        ops::delete_web_session(self.connection(), id).await
    }

    /// Delete expired browser sessions; returns how many.
    pub async fn delete_expired_web_sessions(&self) -> Result<u64> {
        ops::delete_expired_web_sessions(self.connection()).await
    }
}
