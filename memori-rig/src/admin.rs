//! Reading and managing what is stored: an entity's memories, graph and counts; for
//! operators also entity lists, transcripts, a memory's provenance, corrections, erasure,
//! export, retention and the audit log. The dashboard's JSON API calls these; so can any
//! program (a deletion request handled by a script, for example).
//!
//! Every change writes an audit record in the same transaction, naming the actor and never
//! an end user's text.

use std::collections::BTreeMap;

use chrono::Utc;

pub use memori_types::admin::*;

use crate::error::{Error, ErrorKind, Result};
use crate::graph::KnowledgeGraph;
use crate::model::{EntityStats, JobStatus, Memory, MemoryKind, Validity};
use crate::scope::{EntityId, ProcessId};
use crate::store::{self, EntityRow, browse, compliance, from_ms, memories};
use crate::{MAX_MEMORY_TEXT_BYTES, Memori};

fn summary(r: browse::EntityEntry) -> EntitySummary {
    EntitySummary {
        id: r.external_id,
        created_at: from_ms(r.created_at),
        last_seen_at: from_ms(r.last_seen_at),
        sessions: r.sessions,
        messages: r.messages,
        memories: r.memories,
    }
}

fn transcript_message(r: browse::MessageEntry) -> TranscriptMessage {
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

impl Memori {
    /// Every memory of an entity (extracted ones and episodes), oldest first: the current ones,
    /// or with [`Validity::All`] also those a later statement invalidated. Empty for an
    /// unknown entity.
    pub async fn memories(&self, entity: &EntityId, validity: Validity) -> Result<Vec<Memory>> {
        let Some(row) = store::capture::entity_row(&self.inner.db, entity).await? else { return Ok(Vec::new()) };
        let model = self.inner.embedder.model_id();
        let candidates = store::recall::candidates(&self.inner.db, row, model, validity).await?;
        Ok(candidates.into_iter().map(|c| c.memory).collect())
    }

    /// The knowledge graph of an entity: its current statements, or with [`Validity::All`]
    /// also the ones a later statement invalidated. Empty for an unknown entity.
    pub async fn graph(&self, entity: &EntityId, validity: Validity) -> Result<KnowledgeGraph> {
        let Some(row) = store::capture::entity_row(&self.inner.db, entity).await? else {
            return Ok(KnowledgeGraph::default());
        };
        let (nodes, edges) = store::graph::graph(&self.inner.db, row, validity).await?;
        Ok(KnowledgeGraph::new(nodes, edges))
    }

    /// Whether anything was ever captured for the entity (and not erased).
    pub async fn has_entity(&self, entity: &EntityId) -> Result<bool> {
        Ok(store::capture::entity_row(&self.inner.db, entity).await?.is_some())
    }

    /// Row counts of an entity's data (all zero for an unknown entity).
    pub async fn stats(&self, entity: &EntityId) -> Result<EntityStats> {
        match store::capture::entity_row(&self.inner.db, entity).await? {
            Some(row) => memories::entity_stats(&self.inner.db, row).await,
            None => Ok(EntityStats::default()),
        }
    }

    /// How many messages are stored for an entity.
    pub async fn message_count(&self, entity: &EntityId) -> Result<u64> {
        Ok(self.stats(entity).await?.messages)
    }

    /// Entities whose id contains `search`, most recently active first.
    pub async fn list_entities(&self, search: Option<&str>, offset: u64, limit: u64) -> Result<Page<EntitySummary>> {
        let limit = limit.clamp(1, 500);
        let (rows, total) = browse::list_entities(&self.inner.db, search, offset, limit).await?;
        Ok(Page { items: rows.into_iter().map(summary).collect(), total, offset, limit })
    }

    /// One entity with its sessions and its extracted memories (invalidated ones included);
    /// episodes are counted here and paged with [`Memori::memory_page`].
    pub async fn entity_detail(&self, entity: &EntityId) -> Result<EntityDetail> {
        let row = browse::entity(&self.inner.db, entity.as_str()).await?.ok_or_else(|| not_found("entity"))?;
        let sessions = self.sessions_of_row(row.row).await?;
        const ALL: u64 = 1_000_000;
        let extracted =
            MemoryQuery { kind: Some("extracted".into()), history: true, limit: Some(ALL), ..MemoryQuery::default() };
        let memories = self.page_of_row(row.row, &extracted, ALL).await?.items;
        let episodes = MemoryQuery { kind: Some("episode".into()), limit: Some(1), ..MemoryQuery::default() };
        let episodes = self.page_of_row(row.row, &episodes, 1).await?.total;
        Ok(EntityDetail { entity: summary(row), sessions, memories, episodes })
    }

    /// One page of an entity's memories, filtered by kind, text and validity (see
    /// [`MemoryQuery`]); the page size is at most 500.
    pub async fn memory_page(&self, entity: &EntityId, query: &MemoryQuery) -> Result<Page<Memory>> {
        let row = store::capture::entity_row(&self.inner.db, entity).await?.ok_or_else(|| not_found("entity"))?;
        self.page_of_row(row, query, 500).await
    }

    async fn page_of_row(&self, row: EntityRow, query: &MemoryQuery, max: u64) -> Result<Page<Memory>> {
        let kind = match query.kind.as_deref() {
            None | Some("" | "all") => None,
            Some("extracted") => Some(None),
            Some(k) => Some(Some(
                MemoryKind::parse(k)
                    .ok_or_else(|| Error::invalid_input(format!("no memory kind {k:?} (extracted, all, fact, ...)")))?
                    .as_str(),
            )),
        };
        let limit = query.limit.unwrap_or(50).clamp(1, max);
        let filter = browse::MemoryFilter {
            kind,
            text: query.q.as_deref().map(str::trim),
            history: query.history,
            newest: query.newest,
            offset: query.offset,
            limit,
        };
        let (rows, total) = browse::memory_page(&self.inner.db, row, &filter).await?;
        let items = store::recall::memories_from_rows(&self.inner.db, row, rows).await?;
        Ok(Page { items, total, offset: query.offset, limit })
    }

    async fn sessions_of_row(&self, entity: EntityRow) -> Result<Vec<SessionInfo>> {
        Ok(browse::sessions_of(&self.inner.db, entity)
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
        let row = store::capture::entity_row(&self.inner.db, entity).await?.ok_or_else(|| not_found("entity"))?;
        let rows = browse::transcript(&self.inner.db, row, session).await?.ok_or_else(|| not_found("session"))?;
        Ok(rows.into_iter().map(transcript_message).collect())
    }

    /// One memory, its entity, its source messages and what invalidated it.
    pub async fn memory_detail(&self, memory_id: i64) -> Result<MemoryDetail> {
        let db = &self.inner.db;
        let (row, entity) = memories::memory_owner(db, memory_id).await?.ok_or_else(|| not_found("memory"))?;
        let all = store::recall::candidates(db, row, self.inner.embedder.model_id(), Validity::All).await?;
        let find = |id: i64| all.iter().find(|c| c.memory.id == id).map(|c| c.memory.clone());
        let memory = find(memory_id).ok_or_else(|| not_found("memory"))?;
        let invalidated_by = memory.invalidated_by.and_then(find);
        let sources = browse::sources_of(db, memory_id).await?.into_iter().map(transcript_message).collect();
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
        let embedder = &self.inner.embedder;
        let embedding = match &text {
            Some(t) => {
                let v = embedder.embed(vec![t.clone()]).await?.pop().ok_or_else(|| {
                    Error::new(ErrorKind::Embedding, "the embedder returned no vector for the new text")
                })?;
                Some((embedder.model_id().to_owned(), v))
            }
            None => None,
        };
        let update = memories::MemoryUpdate { text, kind: patch.kind, importance: patch.importance, embedding };
        if !memories::update_memory(&self.inner.db, memory_id, update, actor).await? {
            return Err(not_found("memory"));
        }
        Ok(self.memory_detail(memory_id).await?.memory)
    }

    /// Delete one memory with its embeddings, sources and graph edges, audited.
    pub async fn delete_memory(&self, memory_id: i64, actor: &str) -> Result<()> {
        if memories::delete_memory(&self.inner.db, memory_id, actor).await? { Ok(()) } else { Err(not_found("memory")) }
    }

    /// Erase an entity and everything stored about it (sessions, messages, summaries,
    /// memories, sources, embeddings, graph, jobs) in one transaction. The entity's id is
    /// personal data and is not kept: the audit record holds counts and `reference`, the
    /// operator's own reference for the request (a ticket number), which is how an auditor
    /// finds the erasure of a given person without the log re-identifying anyone.
    pub async fn erase_entity(
        &self,
        entity: &EntityId,
        actor: &str,
        reference: Option<&str>,
    ) -> Result<ErasureReceipt> {
        let reference = reference.map(str::trim).filter(|r| !r.is_empty());
        if reference.is_some_and(|r| r.chars().count() > 128 || r.chars().any(char::is_control)) {
            return Err(Error::invalid_input("a request reference is at most 128 characters, no control characters"));
        }
        let (row, audit_id, removed) = compliance::erase_entity(&self.inner.db, entity.as_str(), actor, reference)
            .await?
            .ok_or_else(|| not_found("entity"))?;
        // Nothing of the entity stays in this process's memory either.
        self.inner.cache.remove(row.0);
        let on_disk = compliance::scrub(&self.inner.db).await;
        Ok(ErasureReceipt { audit_id: Some(audit_id), erased_at: Utc::now(), removed, on_disk })
    }

    /// Everything stored about an entity, for a data-access request. Reading it is access to
    /// personal data, so it is audited (`entity.export`, by entity row) with `actor`.
    pub async fn export_entity(&self, entity: &EntityId, actor: &str) -> Result<EntityExport> {
        let db = &self.inner.db;
        let row = browse::entity(db, entity.as_str()).await?.ok_or_else(|| not_found("entity"))?;
        let target = Some(format!("row {}", row.row.0));
        store::audit::record(db, actor, "entity.export", "entity", target, serde_json::json!({})).await?;
        let sessions = self.sessions_of_row(row.row).await?;
        let memories = self.memories(entity, Validity::All).await?;
        let rows = compliance::export_rows(db, row.row).await?;
        let graph = self.graph_view(entity, Validity::All).await?;
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
                .map(|e| ExportedEmbedding { memory_id: e.memory_id, model: e.model, vector: e.vector })
                .collect(),
            graph,
            jobs: rows
                .jobs
                .into_iter()
                .map(|j| ExportedJob { id: j.id, kind: j.kind, status: j.status, created_at: j.created_at })
                .collect(),
        })
    }

    /// An entity's knowledge graph as plain nodes and edges (for display and export).
    pub async fn graph_view(&self, entity: &EntityId, validity: Validity) -> Result<GraphView> {
        if !self.has_entity(entity).await? {
            return Err(not_found("entity"));
        }
        let g = self.graph(entity, validity).await?;
        Ok(GraphView { nodes: g.nodes().cloned().collect(), edges: g.edges().cloned().collect() })
    }

    /// Counts, queue health and the latest audit records.
    pub async fn overview(&self) -> Result<Overview> {
        let t = browse::totals(&self.inner.db).await?;
        let count = |s: JobStatus| t.jobs.get(s.as_str()).copied().unwrap_or(0);
        let mut failing = self.jobs(Some(JobStatus::Dead), 20).await?;
        let retrying = self.jobs(Some(JobStatus::Pending), 50).await?;
        failing.extend(retrying.into_iter().filter(|j| j.last_error.is_some()).take(20));
        Ok(Overview {
            entities: t.entities,
            sessions: t.sessions,
            messages: t.messages,
            memories: t.memories,
            invalidated: t.invalidated,
            graph_edges: t.edges,
            jobs: JobCounts {
                pending: count(JobStatus::Pending),
                running: count(JobStatus::Running),
                done: count(JobStatus::Done),
                dead: count(JobStatus::Dead),
            },
            failing_jobs: failing,
            recent: self.audit_log(&AuditQuery { limit: Some(10), ..AuditQuery::default() }).await?,
        })
    }

    /// Audit records, newest first, filtered and paged by `query`.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        store::audit::entries(&self.inner.db, query).await
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
        let removed = compliance::apply_retention(&self.inner.db, &per_process, policy.days.map(cutoff), actor).await?;
        compliance::scrub(&self.inner.db).await;
        Ok(RetentionReceipt { applied_at: now, removed })
    }
}
