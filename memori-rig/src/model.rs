//! Domain values: messages as captured (here), and the plain data shared with the dashboard
//! (memories, parts, recall results with their explanation), re-exported from `memori-types`.
//! No database, no rig, no IO.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use memori_types::model::*;

/// What a capture did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureReceipt {
    /// Messages newly stored.
    pub stored: usize,
    /// Messages skipped because their idempotency key was already stored.
    pub duplicates: usize,
    /// The augmentation job enqueued with them, if any message was new.
    pub job_id: Option<i64>,
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

/// A current memory said at `at`, with no sources or session (tests fill in the rest).
#[cfg(test)]
pub(crate) fn test_memory(id: i64, kind: MemoryKind, text: &str, at: DateTime<Utc>) -> Memory {
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
