//! `MemoryIndex`: memori's recall behind rig's `VectorStoreIndex`.

use rig_core::vector_store::request::{Filter, VectorSearchRequest};
use rig_core::vector_store::{VectorSearchIdResult, VectorSearchResult, VectorStoreError, VectorStoreIndex};
use rig_core::wasm_compat::WasmCompatSend;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{EntityId, Memori, RecallRequest, Recalled};

/// The document a search returns for each memory (what `dynamic_context` shows the model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryDocument {
    /// The memory.
    pub text: String,
    /// Its kind (`fact`, `preference`, ..., `episode`).
    pub kind: String,
    /// When it was said, `YYYY-MM-DD`.
    pub date: String,
}

/// Recall over one entity's memories as a rig vector index. Filters are not supported and
/// are ignored; the entity is the only scope.
#[derive(Clone, Debug)]
pub struct MemoryIndex {
    memori: Memori,
    entity: EntityId,
}

impl MemoryIndex {
    pub(crate) fn new(memori: Memori, entity: EntityId) -> Self {
        Self { memori, entity }
    }

    async fn search(
        &self,
        req: &VectorSearchRequest<Filter<serde_json::Value>>,
    ) -> Result<Vec<Recalled>, VectorStoreError> {
        let limit = usize::try_from(req.samples()).unwrap_or(usize::MAX);
        let hits = self
            .memori
            .recall_with(&self.entity, RecallRequest::new(req.query()).limit(limit))
            .await
            .map_err(VectorStoreError::datastore)?
            .memories;
        Ok(match req.threshold() {
            Some(t) => hits.into_iter().filter(|h| h.score >= t).collect(),
            None => hits,
        })
    }
}

impl VectorStoreIndex for MemoryIndex {
    type Filter = Filter<serde_json::Value>;

    // `VectorStoreError` is rig's type; its size is not ours to change.
    #[allow(clippy::result_large_err)]
    async fn top_n<T: DeserializeOwned + WasmCompatSend>(
        &self,
        req: VectorSearchRequest<Self::Filter>,
    ) -> Result<Vec<VectorSearchResult<T>>, VectorStoreError> {
        self.search(&req)
            .await?
            .into_iter()
            .map(|h| {
                let doc = MemoryDocument {
                    text: h.memory.text,
                    kind: h.memory.kind.as_str().to_owned(),
                    date: h.memory.valid_from.format("%Y-%m-%d").to_string(),
                };
                Ok(VectorSearchResult {
                    score: h.score,
                    id: format!("memory-{}", h.memory.id),
                    document: serde_json::from_value(serde_json::to_value(doc)?)?,
                })
            })
            .collect()
    }

    async fn top_n_ids(
        &self,
        req: VectorSearchRequest<Self::Filter>,
    ) -> Result<Vec<VectorSearchIdResult>, VectorStoreError> {
        Ok(self
            .search(&req)
            .await?
            .into_iter()
            .map(|h| VectorSearchIdResult { score: h.score, id: format!("memory-{}", h.memory.id) })
            .collect())
    }
}
