//! `MemoryHook`: recall before the model call, inject into the system prompt, capture after.

use std::collections::HashSet;
use std::sync::Arc;

use rig_agent::agent::{
    AgentHook, CompletionCallAction, CompletionCallEvent, DispatchAction, DispatchEvent, HookContext, RunSettled,
};
use rig_core::effect::EffectKind;

use super::convert::{fingerprint, from_rig_message, with_memory_block};
use crate::{FailureMode, Memori, Scope};

/// The block recalled for a run, kept in the run's scratchpad so that every model call of
/// the run (tool loops included) gets the same memories, and recall runs once per run.
#[derive(Clone)]
struct Injection(Option<Arc<str>>);

/// An `AgentHook` giving a rig agent long-term memory for one [`Scope`].
#[derive(Clone, Debug)]
pub struct MemoryHook {
    memori: Memori,
    scope: Scope,
}

impl MemoryHook {
    pub(crate) fn new(memori: Memori, scope: Scope) -> Self {
        Self { memori, scope }
    }
}

impl AgentHook for MemoryHook {
    fn name(&self) -> Option<String> {
        Some("memori".into())
    }

    async fn on_completion_call(&self, ctx: &HookContext, ev: CompletionCallEvent<'_>) -> CompletionCallAction {
        if ctx.scratchpad().contains::<Injection>() {
            return CompletionCallAction::continue_run();
        }
        let query = ev.prompt.rag_text().or_else(|| ev.history.iter().rev().find_map(|m| m.rag_text()));
        let in_history: HashSet<String> = ev.history.iter().map(fingerprint).collect();
        match self.memori.context_block(&self.scope, query.as_deref().unwrap_or_default(), &in_history).await {
            Ok(block) => {
                ctx.scratchpad().insert(Injection(block.map(Arc::from)));
                CompletionCallAction::continue_run()
            }
            Err(e) => {
                ctx.scratchpad().insert(Injection(None));
                match self.memori.config().failure_mode {
                    FailureMode::Open => CompletionCallAction::continue_run(),
                    FailureMode::Closed => CompletionCallAction::stop(format!("memory recall failed: {e}")),
                }
            }
        }
    }

    async fn on_dispatch(&self, ctx: &HookContext, ev: DispatchEvent<'_>) -> DispatchAction {
        let EffectKind::Completion { request, stream } = ev.kind else {
            return DispatchAction::proceed();
        };
        match ctx.scratchpad().get::<Injection>() {
            Some(Injection(Some(block))) => DispatchAction::patch(EffectKind::Completion {
                request: with_memory_block(request, &block),
                stream: *stream,
            }),
            _ => DispatchAction::proceed(),
        }
    }

    async fn on_run_settled(&self, _ctx: &HookContext, ev: RunSettled<'_>) {
        let Some(messages) = ev.messages else { return };
        let messages = messages.iter().map(from_rig_message).collect();
        self.memori.capture_logged(&self.scope, messages).await;
    }
}
