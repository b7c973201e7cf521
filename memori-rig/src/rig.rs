//! The rig adapter: the only module that imports rig (rig-core and rig-agent, pinned to
//! 0.44.0). Each rig surface has its own file so that a rig upgrade touches a few lines.
//!
//! - [`MemoryHook`] (`memori.hook(&scope)`): an `AgentHook` that recalls before the first
//!   model call of a run, appends the memory block to the system prompt of every model call
//!   of the run (tool loops included), and captures what the run added, for `.await` and
//!   `.stream()` alike.
//! - [`MemoryIndex`] (`memori.index(&scope)`): a `VectorStoreIndex` for
//!   `AgentBuilder::dynamic_context(k, index)`, and therefore also usable as a tool.
//! - [`MemoryModel`] (`memori.wrap_model(model, &scope)`): the same recall and capture
//!   around direct model calls, unary and streamed, without an agent.
//! - [`RigEmbedder`]: any rig embedding model as an [`crate::Embedder`].
//! - [`LlmExtractor`]: any rig completion model as an [`crate::Extractor`], through rig's
//!   `Extractor` and a versioned prompt.

mod convert;
mod embedder;
mod extract;
mod hook;
mod index;
mod model;

pub use convert::{from_rig_message, with_memory_block};
pub use embedder::RigEmbedder;
pub use extract::{LlmExtractor, LlmMemory, LlmOutput, LlmTriple, PROMPT, PROMPT_VERSION, convert, render_window};
pub use hook::MemoryHook;
pub use index::{MemoryDocument, MemoryIndex};
pub use model::MemoryModel;

use crate::{Memori, Scope};

impl Memori {
    /// An agent hook that gives runs of `scope` long-term memory. Attach it per run
    /// (`agent.prompt(p).add_hook(memori.hook(&scope))`) or to the agent builder.
    pub fn hook(&self, scope: &Scope) -> MemoryHook {
        MemoryHook::new(self.clone(), scope.clone())
    }

    /// A vector-store index over the memories of `scope`'s entity.
    pub fn index(&self, scope: &Scope) -> MemoryIndex {
        MemoryIndex::new(self.clone(), scope.entity.clone())
    }

    /// Wrap a completion model so that direct calls recall and capture for `scope`.
    pub fn wrap_model(
        &self,
        model: impl Into<rig_core::DynModel<rig_core::operation::Completion>>,
        scope: &Scope,
    ) -> MemoryModel {
        MemoryModel::new(model.into(), self.clone(), scope.clone())
    }
}
