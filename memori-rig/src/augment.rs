//! Augmentation: turning captured conversations into typed memories.
//!
//! [`offline`] is the extractor that needs no model: first-person statements matched by
//! rules. (Wiring extraction into the worker, the LLM extractor, merging and contradiction
//! handling are the augmentation issue's remaining work; today the worker stores episodes.)

pub mod offline;

use serde::{Deserialize, Serialize};

use crate::model::MemoryKind;

/// A (subject, predicate, object) statement for the knowledge graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triple {
    /// Who or what it is about (`user` for the speaker).
    pub subject: String,
    /// The relation, snake_case (`lives_in`, `allergic_to`).
    pub predicate: String,
    /// The value.
    pub object: String,
}

/// One memory extracted from a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extracted {
    /// What kind of memory.
    pub kind: MemoryKind,
    /// The memory as a third-person sentence ("Maya is allergic to shellfish").
    pub text: String,
    /// 0 to 1.
    pub importance: f64,
    /// 0 to 1: how sure the extractor is.
    pub confidence: f64,
    /// The statement behind it.
    pub triple: Triple,
}
