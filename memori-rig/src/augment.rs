//! Augmentation: turning captured conversations into typed memories and graph triples.
//!
//! An [`Extractor`] reads a [`Window`] (the messages of one capture, with the session's
//! summary so far) and returns an [`Extraction`]. Two ship with the crate:
//! - [`OfflineExtractor`] ([`offline`]): first-person statements matched by rules, no model.
//!   It is the default.
//! - `LlmExtractor` (in [`crate::rig`]): any rig completion model, through rig's `Extractor`.
//!
//! What happens to an extraction is decided by pure functions in [`merge`]: a memory that says
//! what a stored one says reinforces it (mention count, last seen), and one that contradicts a
//! stored statement invalidates it, keeping it for history. The worker applies those decisions
//! in one transaction per capture.

pub mod merge;
pub mod offline;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{MemoryKind, Role};

/// A (subject, predicate, object) statement for the knowledge graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triple {
    /// Who or what it is about (the speaker's name, or `User`).
    pub subject: String,
    /// The subject's type (`person`, `place`, `organization`, ...).
    pub subject_type: String,
    /// The relation, snake_case (`lives_in`, `allergic_to`).
    pub predicate: String,
    /// The value.
    pub object: String,
    /// The object's type.
    pub object_type: String,
    /// The subject has one value of this predicate at a time (`lives_in`, `works_at`,
    /// `age`): a new object invalidates the old statement. `likes` or `speaks` are not.
    pub exclusive: bool,
}

/// One memory extracted from a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extracted {
    /// What kind of memory (never [`MemoryKind::Episode`]; episodes are made by the worker).
    pub kind: MemoryKind,
    /// The memory as a self-contained third-person sentence ("Maya is allergic to shellfish").
    pub text: String,
    /// 0 to 1.
    pub importance: f64,
    /// 0 to 1: how sure the extractor is.
    pub confidence: f64,
    /// The window messages it comes from (ids from [`WindowMessage::id`]); at least one.
    pub sources: Vec<i64>,
    /// The time the memory is about, when it names one ("the trip in May").
    pub refers_to: Option<DateTime<Utc>>,
    /// The statement behind it, for the knowledge graph and contradiction checks.
    pub triple: Option<Triple>,
}

/// What an extractor returns for one window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Extraction {
    /// The memories found.
    pub memories: Vec<Extracted>,
    /// The conversation summary updated with this window, if the extractor writes one.
    pub summary: Option<String>,
}

/// One message of a [`Window`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowMessage {
    /// The stored message id; memories name their sources with it.
    pub id: i64,
    /// Who said it.
    pub role: Role,
    /// The speaker's name, when known.
    pub name: Option<String>,
    /// Its text (tool calls and results rendered as text).
    pub text: String,
    /// When it was said.
    pub said_at: DateTime<Utc>,
}

impl WindowMessage {
    /// How memories should name the speaker: their name, else `User` / `Assistant`.
    pub fn speaker(&self) -> &str {
        match (&self.name, self.role) {
            (Some(n), _) if !n.trim().is_empty() => n.trim(),
            (_, Role::Assistant) => "Assistant",
            _ => "User",
        }
    }
}

/// The input of one extraction: the messages of one capture of one session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// The session's summary before these messages, if one was written.
    pub summary: Option<String>,
    /// The messages, in conversation order.
    pub messages: Vec<WindowMessage>,
}

/// Turns conversation windows into memories. Implementations must be deterministic enough to
/// be retried: a job whose extraction fails is run again later, with the same window.
#[async_trait]
pub trait Extractor: Send + Sync + 'static {
    /// A stable id naming the extractor and its prompt or rule version (`offline-v2`).
    fn id(&self) -> &str;

    /// Extract memories from a window. An error fails the job, which is retried with backoff
    /// and kept as a dead letter after the last attempt; nothing captured is lost.
    async fn extract(&self, window: &Window) -> Result<Extraction>;
}

/// The rule-based extractor that needs no model; see [`offline`] for what it catches.
#[derive(Clone, Copy, Debug, Default)]
pub struct OfflineExtractor;

#[async_trait]
impl Extractor for OfflineExtractor {
    fn id(&self) -> &str {
        "offline-v2"
    }

    async fn extract(&self, window: &Window) -> Result<Extraction> {
        let memories = window
            .messages
            .iter()
            .filter(|m| m.role == Role::User)
            .flat_map(|m| {
                offline::extract(m.speaker(), &m.text).into_iter().map(|mut e| {
                    e.sources = vec![m.id];
                    e
                })
            })
            .collect();
        Ok(Extraction { memories, summary: None })
    }
}

/// Check an extraction against its window: drop memories with no text or of the episode kind,
/// attribute a memory whose sources are not messages of the window to the whole window (a model
/// may forget the ids), drop a triple with an empty part, clamp scores into 0..=1, and trim
/// oversized text. Returns the number of memories dropped.
pub fn sanitize(extraction: &mut Extraction, window: &Window) -> usize {
    /// Longest memory text kept; a model that returns more is rambling.
    const MAX_TEXT: usize = crate::MAX_MEMORY_TEXT_BYTES;
    let before = extraction.memories.len();
    extraction.memories.retain_mut(|m| {
        m.text = m.text.trim().to_owned();
        if m.text.len() > MAX_TEXT {
            let cut = (0..=MAX_TEXT).rev().find(|&i| m.text.is_char_boundary(i)).unwrap_or(0);
            m.text.truncate(cut);
        }
        m.sources.retain(|id| window.messages.iter().any(|w| w.id == *id));
        if m.sources.is_empty() {
            // A model may forget the ids: attribute the memory to the whole window.
            m.sources = window.messages.iter().map(|w| w.id).collect();
        }
        m.importance = clamp01(m.importance);
        m.confidence = clamp01(m.confidence);
        if let Some(t) = &m.triple
            && [&t.subject, &t.predicate, &t.object].iter().any(|s| s.trim().is_empty())
        {
            m.triple = None;
        }
        !m.text.is_empty() && m.kind != MemoryKind::Episode && !m.sources.is_empty()
    });
    if let Some(s) = &extraction.summary
        && s.trim().is_empty()
    {
        extraction.summary = None;
    }
    before - extraction.memories.len()
}

fn clamp01(v: f64) -> f64 {
    if v.is_nan() { 0.5 } else { v.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        Window {
            summary: None,
            messages: vec![
                WindowMessage { id: 7, role: Role::User, name: None, text: "I live in Paris.".into(), said_at: at },
                WindowMessage { id: 8, role: Role::Assistant, name: None, text: "I love Paris!".into(), said_at: at },
            ],
        }
    }

    #[tokio::test]
    async fn offline_extractor_reads_user_messages_only_and_cites_them() {
        let got = OfflineExtractor.extract(&window()).await.unwrap();
        assert_eq!(got.memories.len(), 1);
        assert_eq!(got.memories[0].text, "User lives in Paris");
        assert_eq!(got.memories[0].sources, [7]);
        assert!(got.memories[0].triple.as_ref().is_some_and(|t| t.exclusive));
    }

    #[test]
    fn sanitize_repairs_or_drops_bad_output() {
        let m = |text: &str, sources: Vec<i64>, kind| Extracted {
            kind,
            text: text.into(),
            importance: f64::NAN,
            confidence: 7.0,
            sources,
            refers_to: None,
            triple: None,
        };
        let mut x = Extraction {
            memories: vec![
                m("  ", vec![7], MemoryKind::Fact),
                m("ok", vec![99], MemoryKind::Fact),
                m("episode", vec![7], MemoryKind::Episode),
                m(&"é".repeat(1_500), vec![8], MemoryKind::Fact),
            ],
            summary: Some(" ".into()),
        };
        assert_eq!(sanitize(&mut x, &window()), 2);
        assert_eq!(x.memories[0].sources, [7, 8], "unknown ids fall back to the window");
        assert_eq!((x.memories[0].importance, x.memories[0].confidence), (0.5, 1.0));
        assert_eq!(x.memories[1].text.len(), 2_000);
        assert_eq!(x.summary, None);
    }
}
