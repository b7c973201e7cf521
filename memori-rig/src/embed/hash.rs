//! A deterministic embedder: feature hashing of lower-cased words and word bigrams.

use async_trait::async_trait;

use super::{Embedder, normalize};
use crate::error::Result;

/// Deterministic bag-of-words embedder for tests and offline demos. Texts sharing words are
/// similar; it knows no synonyms.
#[derive(Clone, Debug)]
pub struct HashEmbedder {
    dims: usize,
    id: String,
}

impl HashEmbedder {
    /// An embedder with `dims` dimensions (at least 8).
    pub fn new(dims: usize) -> Self {
        let dims = dims.max(8);
        Self { dims, id: format!("hash-bow-v1-{dims}") }
    }

    /// Embed one text synchronously.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dims];
        let words: Vec<String> = crate::text::words(text).collect();
        let mut add = |feature: &str, weight: f32| {
            let h = fnv1a(feature.as_bytes());
            let idx = usize::try_from(h % self.dims as u64).unwrap_or(0);
            let sign = if (h >> 63) & 1 == 1 { -1.0 } else { 1.0 };
            v[idx] += sign * weight;
        };
        for w in &words {
            add(w, 1.0);
        }
        for pair in words.windows(2) {
            add(&format!("{} {}", pair[0], pair[1]), 0.5);
        }
        normalize(&mut v);
        v
    }
}

impl Default for HashEmbedder {
    fn default() -> Self {
        Self::new(256)
    }
}

#[async_trait]
impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.dims
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn deterministic_normalised_and_word_sensitive() {
        let e = HashEmbedder::default();
        let a = e.embed_one("I am allergic to peanuts");
        assert_eq!(a, e.embed_one("i am ALLERGIC to peanuts!"));
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        let near = dot(&a, &e.embed_one("allergic to peanuts"));
        let far = dot(&a, &e.embed_one("the weather in Berlin"));
        assert!(near > far + 0.3, "near {near} far {far}");
    }
}
