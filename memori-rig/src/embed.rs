//! Embeddings: the [`Embedder`] trait and the built-in embedders.
//!
//! - [`FastEmbedder`] (feature `fastembed`, default): all-MiniLM-L6-v2 int8 through ONNX
//!   Runtime, loaded from the files `memori setup` fetched (see [`assets`]). Runs on a
//!   blocking thread, never on the async runtime's workers.
//! - [`HashEmbedder`]: deterministic feature hashing of words, for tests and demos that must
//!   not depend on model files.
//! - any rig embedding model, through `memori_rig::rig::RigEmbedder`.
//!
//! Every embedder returns L2-normalised vectors, so cosine similarity is a dot product.

pub mod assets;
#[cfg(feature = "fastembed")]
mod fast;
mod hash;

use async_trait::async_trait;

use crate::error::Result;

#[cfg(feature = "fastembed")]
pub use fast::FastEmbedder;
pub use hash::HashEmbedder;

/// Turns texts into vectors.
#[async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// A stable id of the model and its settings. Stored with every vector: changing models
    /// never mixes vectors from two models in one ranking.
    fn model_id(&self) -> &str;

    /// Vector length.
    fn dimensions(&self) -> usize;

    /// Embed a batch; one L2-normalised vector per text, in order.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>>;

    /// Embed one recall query: on an agent call's path, so an embedder shared with the
    /// background workers should serve it before their batches (default: [`Embedder::embed`]).
    async fn embed_query(&self, query: String) -> Result<Vec<f32>> {
        Ok(self.embed(vec![query]).await?.into_iter().next().unwrap_or_default())
    }
}

/// Scale a vector to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
