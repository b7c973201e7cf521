//! Lexical relevance: Okapi BM25 over stemmed words.
//!
//! [`bm25`] scores every document (the reference, and what small candidate sets use);
//! [`Bm25Index`] keeps postings so that a query only touches documents sharing one of its
//! terms. Both give the same scores for the same documents.

use std::collections::HashMap;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

/// BM25 term-frequency saturation.
pub(crate) const K1: f64 = 1.2;
/// BM25 length normalisation.
pub(crate) const B: f64 = 0.75;

/// Common English words that carry no meaning for search.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at", "be", "been", "before",
    "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for", "from", "had", "has", "have", "having",
    "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me", "more",
    "my", "no", "not", "of", "on", "or", "our", "out", "she", "should", "so", "some", "such", "than", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "to", "too", "up", "very", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "m", "s",
    "t", "ll", "re", "ve", "d",
];

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Search terms of a text: words without stopwords, reduced to their Snowball stem
/// ("hiking" and "hikes" both become "hike").
pub(crate) fn terms(text: &str) -> Vec<String> {
    crate::text::words(text)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| if w.is_ascii() { STEMMER.stem(&w).into_owned() } else { w })
        .collect()
}

fn unique(query: &[String]) -> Vec<&str> {
    let mut unique: Vec<&str> = query.iter().map(String::as_str).collect();
    unique.sort_unstable();
    unique.dedup();
    unique
}

fn idf(n: f64, df: f64) -> f64 {
    ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
}

fn term_score(idf: f64, tf: f64, len: f64, avg_len: f64) -> f64 {
    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg_len.max(1e-9)))
}

/// BM25 score of every document for the query terms (0 for documents sharing no term).
#[cfg(test)]
pub(crate) fn bm25(query: &[String], docs: &[Vec<String>]) -> Vec<f64> {
    if docs.is_empty() || query.is_empty() {
        return vec![0.0; docs.len()];
    }
    let n = docs.len() as f64;
    let avg_len = docs.iter().map(Vec::len).sum::<usize>() as f64 / n;
    let unique = unique(query);
    let df: HashMap<&str, f64> =
        unique.iter().map(|t| (*t, docs.iter().filter(|d| d.iter().any(|w| w == t)).count() as f64)).collect();
    docs.iter()
        .map(|doc| {
            unique
                .iter()
                .map(|t| {
                    let tf = doc.iter().filter(|w| w == t).count() as f64;
                    if tf == 0.0 { 0.0 } else { term_score(idf(n, df[t]), tf, doc.len() as f64, avg_len) }
                })
                .sum()
        })
        .collect()
}

/// Postings for BM25: term → (document, term frequency).
#[derive(Clone, Debug, Default)]
pub(crate) struct Bm25Index {
    postings: HashMap<String, Vec<(u32, u32)>>,
    lengths: Vec<u32>,
    total_len: u64,
}

impl Bm25Index {
    /// Index documents given as term lists; document `i` is `docs[i]`.
    pub(crate) fn new<'a>(docs: impl IntoIterator<Item = &'a [String]>) -> Self {
        let mut index = Self::default();
        for doc in docs {
            let id = index.lengths.len() as u32;
            let mut tf: HashMap<&str, u32> = HashMap::new();
            for t in doc {
                *tf.entry(t).or_default() += 1;
            }
            for (t, n) in tf {
                index.postings.entry(t.to_owned()).or_default().push((id, n));
            }
            index.lengths.push(doc.len() as u32);
            index.total_len += doc.len() as u64;
        }
        index
    }

    /// `(document, score)` for every document that shares a term with the query and passes
    /// `keep`, in document order. Corpus statistics (IDF, average length) cover all documents.
    pub(crate) fn search(&self, query: &[String], keep: impl Fn(usize) -> bool) -> Vec<(usize, f64)> {
        if self.lengths.is_empty() {
            return Vec::new();
        }
        let n = self.lengths.len() as f64;
        let avg_len = self.total_len as f64 / n;
        let mut scores: HashMap<u32, f64> = HashMap::new();
        for t in unique(query) {
            let Some(postings) = self.postings.get(t) else { continue };
            let idf = idf(n, postings.len() as f64);
            for &(doc, tf) in postings {
                if keep(doc as usize) {
                    *scores.entry(doc).or_default() +=
                        term_score(idf, f64::from(tf), f64::from(self.lengths[doc as usize]), avg_len);
                }
            }
        }
        let mut out: Vec<(usize, f64)> = scores.into_iter().map(|(d, s)| (d as usize, s)).collect();
        out.sort_unstable_by_key(|&(d, _)| d);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Vec<Vec<String>> {
        ["I am allergic to peanuts", "I love peanuts and coffee", "coffee every morning", "the weather is nice"]
            .iter()
            .map(|d| terms(d))
            .collect()
    }

    #[test]
    fn rare_terms_score_higher_and_misses_score_zero() {
        let s = bm25(&terms("allergic peanuts"), &docs());
        assert!(s[0] > s[1] && s[1] > 0.0);
        assert_eq!(s[2], 0.0);
        assert_eq!(s[3], 0.0);
    }

    #[test]
    fn stems_so_that_word_forms_match() {
        assert_eq!(terms("hiking hikes"), ["hike", "hike"]);
        assert_eq!(terms("我喜欢"), ["我", "喜", "欢"]);
    }

    #[test]
    fn the_index_scores_like_the_full_scan() {
        let docs = docs();
        let index = Bm25Index::new(docs.iter().map(Vec::as_slice));
        let q = terms("peanut allergy coffee");
        let full = bm25(&q, &docs);
        let sparse = index.search(&q, |_| true);
        assert_eq!(sparse.iter().map(|&(d, _)| d).collect::<Vec<_>>(), [0, 1, 2]);
        for (d, s) in sparse {
            assert!((s - full[d]).abs() < 1e-12, "doc {d}: {s} vs {}", full[d]);
        }
        assert_eq!(index.search(&q, |d| d != 1).len(), 2);
    }
}
