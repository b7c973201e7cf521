//! `RigEmbedder`: any rig embedding model as a memori [`Embedder`].

use async_trait::async_trait;
use rig_core::DynModel;
use rig_core::operation::Embedding;

use crate::embed::{Embedder, normalize};
use crate::error::{Error, ErrorKind, Result};

/// A rig embedding model (`DynModel<Embedding>`), for example a provider's embedding
/// endpoint. Vectors are L2-normalised on the way in.
#[derive(Clone)]
pub struct RigEmbedder {
    model: DynModel<Embedding>,
    id: String,
    dims: usize,
}

impl std::fmt::Debug for RigEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RigEmbedder").field("id", &self.id).field("dims", &self.dims).finish()
    }
}

impl RigEmbedder {
    /// Wrap `model`; `id` names it in the database (change it when the model changes) and
    /// `dims` is its vector length.
    pub fn new(model: impl Into<DynModel<Embedding>>, id: impl Into<String>, dims: usize) -> Self {
        Self { model: model.into(), id: id.into(), dims }
    }
}

#[async_trait]
impl Embedder for RigEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.dims
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let n = texts.len();
        let response = self
            .model
            .call(texts)
            .await
            .map_err(|e| Error::new(ErrorKind::Embedding, format!("embedding model {} failed: {e}", self.id)))?;
        if response.embeddings.len() != n {
            return Err(Error::new(
                ErrorKind::Embedding,
                format!("embedding model {} returned {} vectors for {n} texts", self.id, response.embeddings.len()),
            ));
        }
        if let Some(bad) = response.embeddings.iter().find(|e| e.vec.len() != self.dims) {
            return Err(Error::new(
                ErrorKind::Embedding,
                format!(
                    "embedding model {} returned {} dimensions, configured for {}",
                    self.id,
                    bad.vec.len(),
                    self.dims
                ),
            ));
        }
        Ok(response
            .embeddings
            .into_iter()
            .map(|e| {
                #[allow(clippy::cast_possible_truncation)]
                let mut v: Vec<f32> = e.vec.iter().map(|x| *x as f32).collect();
                normalize(&mut v);
                v
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use rig_core::test_utils::MockEmbeddings;

    use super::*;

    #[tokio::test]
    async fn a_rig_embedding_model_gives_normalised_vectors_in_order() {
        let e = RigEmbedder::new(MockEmbeddings::model(), "mock-embeddings", 10);
        assert_eq!((e.model_id(), e.dimensions()), ("mock-embeddings", 10));
        let v = e.embed(vec!["a".into(), "bb".into()]).await.unwrap();
        assert_eq!(v.len(), 2);
        for x in &v {
            let norm: f32 = x.iter().map(|y| y * y).sum();
            assert!((norm - 1.0).abs() < 1e-5, "{x:?}");
        }
        let wrong = RigEmbedder::new(MockEmbeddings::model(), "mock-embeddings", 384);
        let err = wrong.embed(vec!["a".into()]).await.unwrap_err();
        assert!(err.to_string().contains("returned 10 dimensions, configured for 384"), "{err}");
    }
}
