//! Domain values shared by the library, the dashboard server and the browser app: memories
//! as stored, messages' parts, recall results with their explanation. Plain data, no IO.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who said a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System or developer instructions.
    System,
    /// The end user (or, in an import, any human speaker).
    User,
    /// The model.
    Assistant,
    /// A tool's output fed back to the model.
    Tool,
}

impl Role {
    /// The lower-case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    /// Parse the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            _ => return None,
        })
    }
}

/// One part of a message's content, kept with full fidelity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// The model asked to call a tool.
    ToolCall {
        /// Provider call id, if any.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments as JSON.
        arguments: serde_json::Value,
    },
    /// A tool's answer.
    ToolResult {
        /// The call this answers.
        call_id: String,
        /// Tool name.
        name: String,
        /// The result, as text or JSON.
        content: serde_json::Value,
        /// Whether the tool failed.
        is_error: bool,
    },
    /// Model reasoning that the provider exposed.
    Reasoning {
        /// The reasoning text.
        text: String,
    },
    /// An image, audio, video or document; stored by description, never by bytes.
    Attachment {
        /// `image`, `audio`, `video` or `document`.
        kind: String,
        /// A caption or description, when one is known.
        description: Option<String>,
    },
}

/// What a memory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryKind {
    /// Something true about the user or the world ("works at Acme").
    Fact,
    /// A like, dislike or way they want things done.
    Preference,
    /// Something the user can do or knows.
    Skill,
    /// A stable property (name, age, allergy, location).
    Attribute,
    /// Something that happened or will happen, at a time.
    Event,
    /// A summary of a conversation.
    Summary,
    /// A raw message, kept verbatim as evidence.
    Episode,
}

impl MemoryKind {
    /// Every kind, in display order.
    pub const ALL: [MemoryKind; 7] = [
        MemoryKind::Fact,
        MemoryKind::Preference,
        MemoryKind::Skill,
        MemoryKind::Attribute,
        MemoryKind::Event,
        MemoryKind::Summary,
        MemoryKind::Episode,
    ];

    /// The lower-case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryKind::Fact => "fact",
            MemoryKind::Preference => "preference",
            MemoryKind::Skill => "skill",
            MemoryKind::Attribute => "attribute",
            MemoryKind::Event => "event",
            MemoryKind::Summary => "summary",
            MemoryKind::Episode => "episode",
        }
    }

    /// Parse the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A stored memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Database id.
    pub id: i64,
    /// What it is.
    pub kind: MemoryKind,
    /// The memory itself.
    pub text: String,
    /// 0 to 1: how much it matters.
    pub importance: f64,
    /// 0 to 1: how sure extraction was.
    pub confidence: f64,
    /// How often it was said.
    pub mention_count: i32,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it was last said.
    pub last_seen_at: DateTime<Utc>,
    /// When it became true (the time of the message it came from).
    pub valid_from: DateTime<Utc>,
    /// The time it talks about, if any ("on 7 May").
    pub referred_at: Option<DateTime<Utc>>,
    /// When a newer statement contradicted it; `None` while it holds.
    pub invalidated_at: Option<DateTime<Utc>>,
    /// The memory whose statement invalidated this one.
    pub invalidated_by: Option<i64>,
    /// The session it came from, by external id.
    pub session: Option<String>,
    /// The process (agent) it came from, by external id.
    #[serde(default)]
    pub process: Option<String>,
    /// The messages it came from.
    pub sources: Vec<SourceRef>,
}

/// A message a memory came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// Database id of the message.
    pub message_id: i64,
    /// The message's external id (for example a LoCoMo turn id), if it had one.
    pub external_id: Option<String>,
    /// The message's content fingerprint.
    pub fingerprint: String,
}

/// Why a memory got its score: a tree of named numbers, like tantivy's `Explanation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// What this number is.
    pub label: String,
    /// The number.
    pub value: f64,
    /// The parts it was computed from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Explanation>,
}

impl Explanation {
    /// A leaf.
    pub fn new(label: impl Into<String>, value: f64) -> Self {
        Self { label: label.into(), value, details: Vec::new() }
    }

    /// Add a part.
    #[must_use]
    pub fn with(mut self, detail: Explanation) -> Self {
        self.details.push(detail);
        self
    }

    /// Find a direct part by label.
    pub fn detail(&self, label: &str) -> Option<&Explanation> {
        self.details.iter().find(|d| d.label == label)
    }

    /// Render as an indented tree, one line per node.
    pub fn render(&self) -> String {
        fn go(e: &Explanation, depth: usize, out: &mut String) {
            out.push_str(&format!("{}{:.4} {}\n", "  ".repeat(depth), e.value, e.label));
            for d in &e.details {
                go(d, depth + 1, out);
            }
        }
        let mut out = String::new();
        go(self, 0, &mut out);
        out
    }
}

/// One recall result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recalled {
    /// The memory.
    pub memory: Memory,
    /// Final score (higher is better); `explanation.value` equals it.
    pub score: f64,
    /// How the score was computed.
    pub explanation: Explanation,
    /// For an episode: the messages said just before and after it in its session, folded into
    /// the injected block as context when the budget leaves room.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub neighbours: Vec<Neighbour>,
    /// When what it says no longer holds: for an invalidated memory, the statement that
    /// replaced it; for an episode, a statement extracted from it that a newer one replaced.
    /// The injected block marks it "(superseded 2026-05: ...)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded: Option<Superseded>,
}

/// A newer statement that replaced what a recalled memory says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Superseded {
    /// When it was replaced.
    pub at: DateTime<Utc>,
    /// The newer statement, when it is still stored.
    pub by: Option<String>,
}

/// A message next to a recalled episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    /// Said before (`true`) or after the recalled message.
    pub before: bool,
    /// The episode text ("Speaker: ...").
    pub text: String,
    /// When it was said.
    pub said_at: DateTime<Utc>,
}

/// What a background job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Turn captured messages into episodes, extracted memories, graph edges and embeddings.
    Augment,
    /// A kind this version does not know (written by a newer one); it is never run here.
    Unknown,
}

impl JobKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Augment => "augment",
            JobKind::Unknown => "unknown",
        }
    }

    /// Parse a stored name; anything unknown is [`JobKind::Unknown`].
    pub fn parse(s: &str) -> Self {
        match s {
            "augment" => JobKind::Augment,
            _ => JobKind::Unknown,
        }
    }
}

/// Where a background job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting to run (including a retry waiting for its backoff).
    Pending,
    /// Claimed by a worker, under a lease.
    Running,
    /// Finished.
    Done,
    /// Failed on every attempt: a dead letter, kept until an operator retries it.
    Dead,
}

impl JobStatus {
    /// Every status, in the order a job moves through them.
    pub const ALL: [JobStatus; 4] = [JobStatus::Pending, JobStatus::Running, JobStatus::Done, JobStatus::Dead];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Dead => "dead",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| format!("{s:?} is not one of pending, running, done, dead"))
    }
}

/// A background job, as operators see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    /// Job id.
    pub id: i64,
    /// What it does.
    pub kind: JobKind,
    /// Where it stands.
    pub status: JobStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// Attempts allowed before it becomes a dead letter.
    pub max_attempts: i32,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Which memories (or graph statements) a read returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    /// Only what holds now: nothing a newer statement invalidated.
    #[default]
    Current,
    /// Everything ever stored, invalidated statements included (history, audits, exports).
    All,
}

impl Validity {
    /// Whether invalidated rows are included.
    pub fn includes_invalidated(self) -> bool {
        self == Validity::All
    }
}

/// Row counts of one entity's data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityStats {
    /// Stored messages.
    pub messages: u64,
    /// Memories, live and invalidated.
    pub memories: u64,
    /// Embeddings, all models.
    pub embeddings: u64,
}
