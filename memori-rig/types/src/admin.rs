//! What operators see and do: entity lists, transcripts, memory details and corrections,
//! counts, the audit log, erasure receipts and exports. Returned by `Memori`'s operator
//! methods and sent as-is by the dashboard's JSON API.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{JobInfo, JobKind, JobStatus, Memory, MemoryKind, Part, Role};

/// What an operator may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperatorRole {
    /// Reads everything, changes nothing.
    Viewer,
    /// Also edits memories, saves settings, erases entities, manages API keys.
    Admin,
}

impl OperatorRole {
    /// `admin` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Viewer => "viewer",
            OperatorRole::Admin => "admin",
        }
    }

    /// Parse `admin` or `viewer`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(OperatorRole::Viewer),
            "admin" => Some(OperatorRole::Admin),
            _ => None,
        }
    }
}

/// A page of a longer list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows matching in all.
    pub total: u64,
    /// Rows skipped before this page.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
}

/// An end user (entity) and the size of their data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySummary {
    /// The entity id the application uses.
    pub id: String,
    /// First seen.
    pub created_at: DateTime<Utc>,
    /// Last captured message.
    pub last_seen_at: DateTime<Utc>,
    /// Conversation threads.
    pub sessions: u64,
    /// Stored messages.
    pub messages: u64,
    /// Current (not invalidated) memories.
    pub memories: u64,
}

/// A conversation thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id the application uses.
    pub id: String,
    /// The process (agent) that held it.
    pub process: String,
    /// Stored messages.
    pub messages: u64,
    /// The extractor's summary, if one was written.
    pub summary: Option<String>,
    /// First message.
    pub created_at: DateTime<Utc>,
    /// Last message.
    pub last_seen_at: DateTime<Utc>,
}

/// A stored message, tool calls and results included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptMessage {
    /// Database id (memories name their sources by it).
    pub id: i64,
    /// Session id.
    pub session: String,
    /// Process id.
    pub process: String,
    /// Who said it.
    pub role: Role,
    /// Speaker name, when known.
    pub name: Option<String>,
    /// Content parts, as captured.
    pub parts: Vec<Part>,
    /// Plain text, as indexed.
    pub text: String,
    /// Position in its exchange.
    pub position: i64,
    /// When it was said.
    pub said_at: DateTime<Utc>,
    /// The source system's id, if any.
    pub external_id: Option<String>,
}

/// One entity: its data sizes, sessions and every memory (current and invalidated).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityDetail {
    /// Summary row.
    pub entity: EntitySummary,
    /// Sessions, most recent first.
    pub sessions: Vec<SessionInfo>,
    /// The extracted memories (every kind but episodes), oldest first, invalidated ones
    /// included. Episodes, one per message, can be thousands: page them with
    /// [`MemoryQuery`].
    pub memories: Vec<Memory>,
    /// Current episodes (verbatim messages kept as memories).
    #[serde(default)]
    pub episodes: u64,
}

/// Which of an entity's memories a page shows, oldest first (newest first with `newest`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryQuery {
    /// One kind (`fact`, `episode`, ...), `extracted` (every kind but episodes) or absent for
    /// all.
    pub kind: Option<String>,
    /// Only memories whose text contains this, as typed (no wildcards).
    pub q: Option<String>,
    /// Include memories a newer statement invalidated.
    #[serde(default)]
    pub history: bool,
    /// Newest first instead of oldest first.
    #[serde(default)]
    pub newest: bool,
    /// Rows skipped.
    #[serde(default)]
    pub offset: u64,
    /// Page size: 1 to 500, 50 when absent.
    pub limit: Option<u64>,
}

/// One memory with where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryDetail {
    /// The entity it belongs to.
    pub entity: String,
    /// The memory.
    pub memory: Memory,
    /// The messages it was extracted from.
    pub sources: Vec<TranscriptMessage>,
    /// The memory whose statement invalidated it, if any.
    pub invalidated_by: Option<Memory>,
}

/// An operator's correction of a memory; absent fields stay as they are. A new text is
/// embedded again.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryPatch {
    /// New text (1 to 4,000 bytes).
    pub text: Option<String>,
    /// New kind.
    pub kind: Option<MemoryKind>,
    /// New importance, 0 to 1.
    pub importance: Option<f64>,
}

/// A node of an entity's knowledge graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphNode {
    /// Node id.
    pub id: i64,
    /// Name as first said.
    pub name: String,
    /// `person`, `place`, `thing`, ...
    pub node_type: String,
}

/// An edge (a subject–predicate–object statement) of an entity's knowledge graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphEdge {
    /// Edge id.
    pub id: i64,
    /// Subject node.
    pub source: i64,
    /// Object node.
    pub target: i64,
    /// The relation.
    pub predicate: String,
    /// The memory stating it.
    pub memory_id: Option<i64>,
    /// When it became true.
    pub valid_from: DateTime<Utc>,
    /// When a newer statement contradicted it.
    pub invalidated_at: Option<DateTime<Utc>>,
}

/// An entity's knowledge graph.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphView {
    /// Nodes.
    pub nodes: Vec<GraphNode>,
    /// Edges.
    pub edges: Vec<GraphEdge>,
}

/// Jobs by status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    /// Waiting to run (including retries waiting for their backoff).
    pub pending: u64,
    /// Claimed by a worker.
    pub running: u64,
    /// Finished.
    pub done: u64,
    /// Failed on every attempt (dead letters).
    pub dead: u64,
}

/// One audit record: who changed what, when. Never holds an end user's text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Record id (ascending in time).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Operator name, API key (`key:<name> (<prefix>)`) or `system`.
    pub actor: String,
    /// What was done (`entity.erase`, `memory.update`, `settings.save`, ...).
    pub action: String,
    /// What kind of thing it was done to.
    pub target_kind: String,
    /// Which one.
    pub target_ref: Option<String>,
    /// Counts and field names.
    pub details: serde_json::Value,
}

/// Which audit records to read: newest first, optionally only one action or actor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Only records older than this id (the next page back).
    pub before: Option<i64>,
    /// At most this many (1 to 1,000; 100 when unset).
    pub limit: Option<u64>,
    /// Only this action (`entity.erase`), or every action starting with a prefix (`auth.`).
    pub action: Option<String>,
    /// Only this actor, exactly.
    pub actor: Option<String>,
}

/// A dashboard sign-in event, for the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInEvent {
    /// The password was right.
    Succeeded,
    /// Wrong name or password.
    Failed,
    /// Refused without checking: too many failures from that client.
    Locked,
}

impl SignInEvent {
    /// The audit action.
    pub fn action(self) -> &'static str {
        match self {
            Self::Succeeded => "auth.sign_in",
            Self::Failed => "auth.sign_in_failed",
            Self::Locked => "auth.locked_out",
        }
    }
}

/// The whole store at a glance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// Entities.
    pub entities: u64,
    /// Sessions.
    pub sessions: u64,
    /// Messages.
    pub messages: u64,
    /// Current memories.
    pub memories: u64,
    /// Memories a newer statement invalidated.
    pub invalidated: u64,
    /// Knowledge-graph edges.
    pub graph_edges: u64,
    /// The augmentation queue.
    pub jobs: JobCounts,
    /// Dead letters and failing jobs, newest first.
    pub failing_jobs: Vec<JobInfo>,
    /// The latest audit records.
    pub recent: Vec<AuditEntry>,
}

/// What an erasure removed, by table. Holds no personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReceipt {
    /// The audit record written for it.
    pub audit_id: Option<i64>,
    /// When.
    pub erased_at: DateTime<Utc>,
    /// Rows removed per table.
    pub removed: BTreeMap<String, u64>,
    /// What happened to the removed rows' bytes on disk (overwritten, vacuumed, or pending).
    #[serde(default)]
    pub on_disk: String,
}

/// What applying the retention policy removed, by table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionReceipt {
    /// When.
    pub applied_at: DateTime<Utc>,
    /// Rows removed per table.
    pub removed: BTreeMap<String, u64>,
}

/// An embedding in an export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedEmbedding {
    /// The memory embedded.
    pub memory_id: i64,
    /// Model id.
    pub model: String,
    /// The vector.
    pub vector: Vec<f32>,
}

/// A background job in an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedJob {
    /// Job id.
    pub id: i64,
    /// What it does.
    pub kind: JobKind,
    /// Its status.
    pub status: JobStatus,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
}

/// Everything stored about one entity (a data-access request's answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityExport {
    /// Format tag, `memori-export/1`.
    pub format: String,
    /// When the export was made.
    pub exported_at: DateTime<Utc>,
    /// The entity.
    pub entity: EntitySummary,
    /// Its sessions.
    pub sessions: Vec<SessionInfo>,
    /// Every message, by session and time.
    pub messages: Vec<TranscriptMessage>,
    /// Every memory, invalidated ones included.
    pub memories: Vec<Memory>,
    /// Every embedding.
    pub embeddings: Vec<ExportedEmbedding>,
    /// The knowledge graph, invalidated statements included.
    pub graph: GraphView,
    /// Augmentation jobs.
    pub jobs: Vec<ExportedJob>,
}
