//! Domain values: messages as captured, memories as stored, recall results with their
//! explanation. Plain data: no database, no rig, no IO.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

/// A message to capture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// The speaker's name, when a conversation has named participants.
    pub name: Option<String>,
    /// Content parts.
    pub parts: Vec<Part>,
    /// When it was said; `None` means now. May lie in the past (imports).
    pub said_at: Option<DateTime<Utc>>,
    /// The provider-native form (for example rig's serialized message), kept verbatim.
    pub raw: Option<serde_json::Value>,
    /// An id from the source system (for example a LoCoMo turn id).
    pub external_id: Option<String>,
}

impl Message {
    /// A message made of one text part.
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            name: None,
            parts: vec![Part::Text { text: text.into() }],
            said_at: None,
            raw: None,
            external_id: None,
        }
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::text(Role::User, text)
    }

    /// An assistant message.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text(Role::Assistant, text)
    }

    /// Set the speaker's name.
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Set when it was said.
    #[must_use]
    pub fn said_at(mut self, at: DateTime<Utc>) -> Self {
        self.said_at = Some(at);
        self
    }

    /// The human-readable text: text parts, tool calls and results rendered on their own lines.
    /// NUL characters, which PostgreSQL cannot store in text, become U+FFFD.
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            let piece = match part {
                Part::Text { text } => text.clone(),
                Part::ToolCall { name, arguments, .. } => format!("[tool call {name}({arguments})]"),
                Part::ToolResult { name, content, is_error, .. } => {
                    let content = match content {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let tag = if *is_error { "tool error" } else { "tool result" };
                    format!("[{tag} {name}: {content}]")
                }
                Part::Reasoning { .. } => continue,
                Part::Attachment { kind, description } => match description {
                    Some(d) => format!("[{kind}: {d}]"),
                    None => format!("[{kind}]"),
                },
            };
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&piece);
        }
        out.replace('\0', "\u{FFFD}")
    }

    /// The text an episode memory of this message holds, if the message is worth one:
    /// user and assistant text, prefixed by the speaker.
    pub fn episode_text(&self) -> Option<String> {
        if !matches!(self.role, Role::User | Role::Assistant) {
            return None;
        }
        let text: Vec<&str> = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text } => Some(text.trim()),
                _ => None,
            })
            .filter(|t| !t.is_empty())
            .collect();
        let captions: Vec<String> = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Attachment { kind, description: Some(d) } => Some(format!("(shares {kind}: {d})")),
                _ => None,
            })
            .collect();
        if text.is_empty() && captions.is_empty() {
            return None;
        }
        let speaker = self.name.as_deref().unwrap_or(self.role.as_str());
        let mut body = text.join(" ");
        for c in captions {
            if !body.is_empty() {
                body.push(' ');
            }
            body.push_str(&c);
        }
        Some(format!("{speaker}: {body}").replace('\0', "\u{FFFD}"))
    }

    /// A content fingerprint (role and parts; not the name, time or raw form): the same
    /// message seen again, for example in a request's history, has the same fingerprint.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.role.as_str().as_bytes());
        h.update([0]);
        h.update(serde_json::to_vec(&self.parts).unwrap_or_default());
        hex(&h.finalize())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
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

/// A background job, as operators see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    /// Job id.
    pub id: i64,
    /// What it does (`augment`).
    pub kind: String,
    /// `pending`, `running`, `done` or `dead`.
    pub status: String,
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

#[cfg(test)]
impl Memory {
    /// A current memory said at `at`, with no sources or session (tests fill in the rest).
    pub(crate) fn for_test(id: i64, kind: MemoryKind, text: &str, at: DateTime<Utc>) -> Self {
        Memory {
            id,
            kind,
            text: text.into(),
            importance: 0.5,
            confidence: 1.0,
            mention_count: 1,
            created_at: at,
            last_seen_at: at,
            valid_from: at,
            referred_at: None,
            invalidated_at: None,
            invalidated_by: None,
            session: None,
            process: None,
            sources: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_name_time_and_raw() {
        let a = Message::user("I'm allergic to peanuts");
        let b = Message::user("I'm allergic to peanuts").named("Ann").said_at(Utc::now());
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), Message::assistant("I'm allergic to peanuts").fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
    }

    #[test]
    fn episode_text_prefixes_speaker_and_skips_tools() {
        assert_eq!(Message::user("hi").named("Caroline").episode_text().as_deref(), Some("Caroline: hi"));
        assert_eq!(Message::assistant(" ok ").episode_text().as_deref(), Some("assistant: ok"));
        assert_eq!(Message::user("  ").episode_text(), None);
        assert_eq!(Message::text(Role::Tool, "42").episode_text(), None);
    }

    #[test]
    fn plain_text_renders_tools_and_strips_nul() {
        let m = Message {
            role: Role::Assistant,
            name: None,
            parts: vec![
                Part::Text { text: "a\0b".into() },
                Part::ToolCall { id: "c1".into(), name: "add".into(), arguments: serde_json::json!({"x": 1}) },
            ],
            said_at: None,
            raw: None,
            external_id: None,
        };
        assert_eq!(m.plain_text(), "a\u{FFFD}b\n[tool call add({\"x\":1})]");
    }
}
