//! `LlmExtractor`: memories from any rig completion model, through rig's `Extractor` (one
//! forced `submit` tool call whose arguments follow [`LlmOutput`]'s JSON schema).
//!
//! The prompt is [`PROMPT`], versioned by [`PROMPT_VERSION`] (part of the extractor id, so
//! operators can tell which prompt produced a memory). Output is validated: unknown kinds
//! become facts, unparseable dates are dropped, unknown message ids fall back to the whole
//! window, and out-of-range scores are clamped (see [`crate::augment::sanitize`]). A call that
//! fails (HTTP errors, rate limits, no `submit` call, arguments that do not match the schema)
//! returns [`crate::ErrorKind::Extraction`]; the job is retried with backoff and becomes a
//! dead letter after the last attempt. Nothing captured is lost either way.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rig_agent::extractor::{Extractor as RigExtractor, ExtractorBuilder};
use rig_core::DynModel;
use rig_core::operation::Completion;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::augment::{Extracted, Extraction, Extractor, Triple, Window};
use crate::error::{Error, ErrorKind, Result};
use crate::model::MemoryKind;

/// Version of [`PROMPT`]; bump it with every change to the prompt or the output schema.
pub const PROMPT_VERSION: &str = "llm-v1";

/// The instructions given to the model, after rig's fixed extraction preamble.
pub const PROMPT: &str = "\
You maintain long-term memory about the people an assistant talks to.
You receive a conversation window: numbered messages, each with its id, time, speaker and role,
and possibly a summary of the conversation before it.
Return, through `submit`:
- memories: durable things worth remembering about the speakers, each as one self-contained
  third-person sentence that names the person (\"Maya is allergic to shellfish\", never \"I\" or
  \"she\"). kind is one of: fact (something true about them or their life), preference (likes,
  dislikes, wishes), skill (what they can do or know), attribute (a stable trait: name, age,
  job, home, health, diet), event (something that happened or is planned, with its time).
  importance is 0 to 1 (health, safety and identity near 1; small talk near 0; skip trivia).
  source_ids are the ids of the messages it comes from. refers_to is the date it is about
  (YYYY-MM-DD), when the text says or implies one relative to the message time.
  triple states it as subject / predicate (snake_case, like lives_in, works_at, likes,
  allergic_to) / object, with their types (person, place, organization, thing, activity,
  language, event, role); exclusive is true when the subject can have one object for this
  predicate at a time (lives_in, works_at, age, name), false otherwise (likes, speaks).
- summary: the conversation so far in at most five sentences, updating the given summary.
Only extract what the messages state about the people; do not extract the assistant's own
statements, questions, greetings, or guesses. Return an empty list when there is nothing.";

/// The `submit` arguments the model must produce.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LlmOutput {
    /// Durable memories found in the window.
    #[serde(default)]
    pub memories: Vec<LlmMemory>,
    /// The updated conversation summary.
    #[serde(default)]
    pub summary: Option<String>,
}

/// One memory as the model writes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LlmMemory {
    /// fact, preference, skill, attribute or event.
    pub kind: String,
    /// One self-contained third-person sentence.
    pub text: String,
    /// 0 to 1.
    #[serde(default)]
    pub importance: Option<f64>,
    /// Ids of the messages it comes from.
    #[serde(default)]
    pub source_ids: Vec<i64>,
    /// The date it is about, YYYY-MM-DD.
    #[serde(default)]
    pub refers_to: Option<String>,
    /// The statement as a graph triple.
    #[serde(default)]
    pub triple: Option<LlmTriple>,
}

/// A triple as the model writes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LlmTriple {
    /// Who or what it is about.
    pub subject: String,
    /// person, place, organization, thing, ...
    #[serde(default)]
    pub subject_type: Option<String>,
    /// snake_case relation.
    pub predicate: String,
    /// The value.
    pub object: String,
    /// The value's type.
    #[serde(default)]
    pub object_type: Option<String>,
    /// One object at a time for this predicate.
    #[serde(default)]
    pub exclusive: Option<bool>,
}

/// Confidence given to what a model extracts (the offline rules get 0.6).
const CONFIDENCE: f64 = 0.8;

/// An [`Extractor`] backed by a rig completion model (the user's own provider).
pub struct LlmExtractor {
    extractor: RigExtractor<LlmOutput>,
    id: String,
}

impl std::fmt::Debug for LlmExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmExtractor").field("id", &self.id).finish_non_exhaustive()
    }
}

impl LlmExtractor {
    /// An extractor over `model`, which is asked again once when it does not call `submit`.
    pub fn new(model: impl Into<DynModel<Completion>>) -> Self {
        let model = model.into();
        let id = format!("{PROMPT_VERSION}:{}", model.id().unwrap_or("model"));
        let extractor = ExtractorBuilder::<LlmOutput>::new(model).append_preamble(PROMPT).retries(1).build();
        Self { extractor, id }
    }
}

/// The window as the model reads it.
pub fn render_window(window: &Window) -> String {
    let mut out = String::new();
    if let Some(s) = &window.summary {
        out.push_str("Summary so far: ");
        out.push_str(s);
        out.push_str("\n\n");
    }
    out.push_str("Messages:\n");
    for m in &window.messages {
        out.push_str(&format!(
            "[id {}] {} {} ({}): {}\n",
            m.id,
            m.said_at.format("%Y-%m-%d %H:%M"),
            m.speaker(),
            m.role.as_str(),
            m.text
        ));
    }
    out
}

/// Turn the model's output into an [`Extraction`]; lenient where a safe reading exists.
pub fn convert(output: LlmOutput) -> Extraction {
    let memories = output
        .memories
        .into_iter()
        .map(|m| Extracted {
            kind: match m.kind.trim().to_lowercase().as_str() {
                "preference" => MemoryKind::Preference,
                "skill" => MemoryKind::Skill,
                "attribute" => MemoryKind::Attribute,
                "event" => MemoryKind::Event,
                _ => MemoryKind::Fact,
            },
            text: m.text,
            importance: m.importance.unwrap_or(0.5),
            confidence: CONFIDENCE,
            sources: m.source_ids,
            refers_to: m.refers_to.as_deref().and_then(parse_date),
            triple: m.triple.map(|t| Triple {
                subject: t.subject,
                subject_type: t.subject_type.unwrap_or_else(|| "thing".into()),
                predicate: t.predicate.trim().to_lowercase().replace(' ', "_"),
                object: t.object,
                object_type: t.object_type.unwrap_or_else(|| "thing".into()),
                exclusive: t.exclusive.unwrap_or(false),
            }),
        })
        .collect();
    Extraction { memories, summary: output.summary }
}

fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0).map(|d| d.and_utc()))
}

#[async_trait]
impl Extractor for LlmExtractor {
    fn id(&self) -> &str {
        &self.id
    }

    async fn extract(&self, window: &Window) -> Result<Extraction> {
        let response = self.extractor.extract(render_window(window)).await.map_err(|e| {
            Error::new(ErrorKind::Extraction, format!("the extraction model failed: {e}")).with_source(e)
        })?;
        Ok(convert(response.output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_conversion() {
        let out: LlmOutput = serde_json::from_value(serde_json::json!({
            "memories": [
                {"kind": "Preference", "text": "Maya likes jazz", "source_ids": [3],
                 "triple": {"subject": "Maya", "predicate": "Likes Music", "object": "jazz"}},
                {"kind": "mood", "text": "Maya was tired", "refers_to": "2024-05-01"},
                {"kind": "event", "text": "Maya flies to Rome", "refers_to": "next week"}
            ],
            "summary": "Maya talked about music."
        }))
        .unwrap();
        let x = convert(out);
        assert_eq!(x.memories[0].kind, MemoryKind::Preference);
        assert_eq!(x.memories[0].triple.as_ref().map(|t| t.predicate.as_str()), Some("likes_music"));
        assert_eq!(x.memories[1].kind, MemoryKind::Fact);
        assert_eq!(x.memories[1].refers_to.map(|d| d.to_rfc3339()), Some("2024-05-01T00:00:00+00:00".into()));
        assert_eq!(x.memories[2].refers_to, None);
        assert_eq!(x.summary.as_deref(), Some("Maya talked about music."));
    }
}
