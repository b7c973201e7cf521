//! Lexical relevance: Okapi BM25 over stemmed words.
//!
//! `bm25` scores every document (the reference the tests compare with); [`Bm25Index`] keeps
//! postings so that a query only touches documents sharing one of its terms, and follows
//! additions and removals. Both give the same scores for the same documents.

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

/// Postings for BM25, by document slot: documents can be added and removed one at a time
/// (an entity's index follows its writes), and corpus statistics (document count, average
/// length, document frequency) always cover exactly the documents present, so scores equal a
/// fresh build's over the same documents.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bm25Index {
    /// Term → its id.
    ids: HashMap<String, u32>,
    /// Postings by term id: (document slot, term frequency), unordered.
    postings: Vec<Vec<(u32, u32)>>,
    /// Length of each slot's document; `None` for a free slot.
    lengths: Vec<Option<u32>>,
    docs: usize,
    total_len: u64,
}

impl Bm25Index {
    /// Index documents given as term lists; document `i` is slot `i`.
    #[cfg(test)]
    pub(crate) fn new<'a>(docs: impl IntoIterator<Item = &'a [String]>) -> Self {
        let mut index = Self::default();
        for (slot, doc) in docs.into_iter().enumerate() {
            index.insert(slot, doc);
        }
        index
    }

    /// Index a document in `slot` (which must be free; slots past the end are created).
    pub(crate) fn insert(&mut self, slot: usize, doc: &[String]) {
        if self.lengths.len() <= slot {
            self.lengths.resize(slot + 1, None);
        }
        debug_assert!(self.lengths[slot].is_none(), "slot {slot} is taken");
        // Counts by sorting rather than hashing: one document's terms are few.
        let mut sorted: Vec<&str> = doc.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        let mut i = 0;
        while i < sorted.len() {
            let t = sorted[i];
            let n = sorted[i..].iter().take_while(|x| **x == t).count();
            i += n;
            let id = match self.ids.get(t) {
                Some(&id) => id,
                None => {
                    let id = self.postings.len() as u32;
                    self.ids.insert(t.to_owned(), id);
                    self.postings.push(Vec::new());
                    id
                }
            };
            self.postings[id as usize].push((slot as u32, n as u32));
        }
        self.lengths[slot] = Some(doc.len() as u32);
        self.docs += 1;
        self.total_len += doc.len() as u64;
    }

    /// Remove the document in `slot`; `doc` is its term list as inserted.
    pub(crate) fn remove(&mut self, slot: usize, doc: &[String]) {
        let Some(len) = self.lengths.get_mut(slot).and_then(Option::take) else { return };
        let mut seen: Vec<&str> = doc.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            if let Some(&id) = self.ids.get(t) {
                self.postings[id as usize].retain(|&(d, _)| d as usize != slot);
            }
        }
        self.docs -= 1;
        self.total_len -= u64::from(len);
    }

    /// `(slot, score)` for every document that shares a term with the query and passes
    /// `keep`, in slot order. `scratch` is reused between searches (one score per slot).
    pub(crate) fn search(
        &self,
        query: &[String],
        keep: impl Fn(usize) -> bool,
        scratch: &mut Vec<f64>,
    ) -> Vec<(usize, f64)> {
        if self.docs == 0 {
            return Vec::new();
        }
        let n = self.docs as f64;
        let avg_len = self.total_len as f64 / n;
        scratch.clear();
        scratch.resize(self.lengths.len(), 0.0);
        let mut touched: Vec<u32> = Vec::new();
        // Terms in sorted order, as the reference adds them: each document's sum is the same.
        for t in unique(query) {
            let Some(&id) = self.ids.get(t) else { continue };
            let postings = &self.postings[id as usize];
            if postings.is_empty() {
                continue;
            }
            let idf = idf(n, postings.len() as f64);
            for &(doc, tf) in postings {
                let d = doc as usize;
                if !keep(d) {
                    continue;
                }
                let len = f64::from(self.lengths[d].unwrap_or(0));
                if scratch[d] == 0.0 {
                    touched.push(doc);
                }
                scratch[d] += term_score(idf, f64::from(tf), len, avg_len);
            }
        }
        touched.sort_unstable();
        touched.into_iter().map(|d| (d as usize, scratch[d as usize])).collect()
    }

    /// Approximate heap size.
    pub(crate) fn bytes(&self) -> usize {
        self.ids.keys().map(|k| k.len() + 48).sum::<usize>()
            + self.postings.iter().map(|p| p.capacity() * 8 + 24).sum::<usize>()
            + self.lengths.capacity() * 8
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
        let mut scratch = Vec::new();
        let sparse = index.search(&q, |_| true, &mut scratch);
        assert_eq!(sparse.iter().map(|&(d, _)| d).collect::<Vec<_>>(), [0, 1, 2]);
        for (d, s) in sparse {
            assert!((s - full[d]).abs() < 1e-12, "doc {d}: {s} vs {}", full[d]);
        }
        assert_eq!(index.search(&q, |d| d != 1, &mut scratch).len(), 2);
    }

    #[test]
    fn removing_and_adding_documents_scores_like_a_fresh_index() {
        let docs = docs();
        let mut index = Bm25Index::new(docs.iter().map(Vec::as_slice));
        index.remove(1, &docs[1]);
        index.insert(4, &terms("peanuts again, peanuts everywhere"));
        let kept: Vec<Vec<String>> =
            vec![docs[0].clone(), docs[2].clone(), docs[3].clone(), terms("peanuts again, peanuts everywhere")];
        let q = terms("peanuts coffee");
        let fresh = bm25(&q, &kept);
        let got = index.search(&q, |_| true, &mut Vec::new());
        assert_eq!(got.iter().map(|&(d, _)| d).collect::<Vec<_>>(), [0, 2, 4]);
        for ((_, s), want) in got.iter().zip([fresh[0], fresh[1], fresh[3]]) {
            assert!((s - want).abs() < 1e-12, "{s} vs {want}");
        }
    }
}
