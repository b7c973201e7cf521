//! `MemoryModel`: recall and capture around direct model calls, without an agent.

use std::collections::HashSet;

use futures::{StreamExt, stream};
use rig_core::completion::{CompletionRequest, CompletionResponse};
use rig_core::error::ErrorReport;
use rig_core::operation::Completion;
use rig_core::streaming::{CompletionStream, Relayed, StreamEvents};
use rig_core::{DynModel, ProviderError};

use super::convert::{fingerprint, from_rig_message, with_memory_block};
use crate::{FailureMode, Memori, Message, Scope};

/// A completion model with memory for one [`Scope`]: `call` and `stream` recall into the
/// system prompt first and capture the prompt and the reply afterwards.
#[derive(Clone)]
pub struct MemoryModel {
    inner: DynModel<Completion>,
    memori: Memori,
    scope: Scope,
}

impl std::fmt::Debug for MemoryModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryModel").field("scope", &self.scope).finish_non_exhaustive()
    }
}

impl MemoryModel {
    pub(crate) fn new(inner: DynModel<Completion>, memori: Memori, scope: Scope) -> Self {
        Self { inner, memori, scope }
    }

    async fn prepare(&self, request: CompletionRequest) -> Result<CompletionRequest, ProviderError> {
        let query = request.chat_history.iter().rev().find_map(|m| m.rag_text()).unwrap_or_default();
        let earlier = request.chat_history.len().saturating_sub(1);
        let in_history: HashSet<String> = request.chat_history[..earlier].iter().map(fingerprint).collect();
        match self.memori.context_block(&self.scope, &query, &in_history).await {
            Ok(Some(block)) => Ok(with_memory_block(&request, &block)),
            Ok(None) => Ok(request),
            Err(e) => match self.memori.config().failure_mode {
                FailureMode::Open => Ok(request),
                FailureMode::Closed => Err(ProviderError::Provider(format!("memory recall failed: {e}"))),
            },
        }
    }

    /// What a call added to the conversation: its prompt (the last non-system message) and
    /// the reply.
    fn exchange(request: &CompletionRequest, response: &CompletionResponse) -> Vec<Message> {
        let prompt =
            request.chat_history.iter().rev().find(|m| !matches!(m, rig_core::message::Message::System { .. }));
        prompt.into_iter().map(from_rig_message).chain(response.message().as_ref().map(from_rig_message)).collect()
    }

    /// A unary call with memory.
    pub async fn call(&self, request: impl Into<CompletionRequest>) -> Result<CompletionResponse, ProviderError> {
        let request = request.into();
        let prepared = self.prepare(request.clone()).await?;
        let response = self.inner.call(prepared).await?;
        self.memori.capture_logged(&self.scope, Self::exchange(&request, &response)).await;
        Ok(response)
    }

    /// A streamed call with memory. Recall happens when the stream is first polled; the
    /// exchange is captured when the reply is complete.
    pub fn stream(&self, request: impl Into<CompletionRequest>) -> CompletionStream {
        let request = request.into();
        let this = self.clone();
        let original = request.clone();
        let opened = stream::once(async move {
            let prepared = this.prepare(request).await.map_err(|e| ErrorReport::from(&e))?;
            let streamed = this.inner.stream(prepared).map_err(|e| ErrorReport::from(&e))?;
            Ok::<_, ErrorReport>((this, streamed.into_relay()))
        })
        .map(move |opened| -> StreamEvents {
            match opened {
                Ok((this, events)) => {
                    let original = original.clone();
                    Box::pin(events.then(move |item| {
                        let this = this.clone();
                        let original = original.clone();
                        async move {
                            if let Ok(Relayed::Done(response)) = &item {
                                this.memori.capture_logged(&this.scope, Self::exchange(&original, response)).await;
                            }
                            item
                        }
                    }))
                }
                Err(report) => Box::pin(stream::once(async move { Err(report) })),
            }
        })
        .flatten();
        CompletionStream::relay("memori", Box::pin(opened))
    }
}
