//! Lexical relevance: Okapi BM25 over the candidate set.

use std::collections::HashMap;

/// BM25 term-frequency saturation.
pub const K1: f64 = 1.2;
/// BM25 length normalisation.
pub const B: f64 = 0.75;

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

/// Search terms of a text: words without stopwords.
pub fn terms(text: &str) -> Vec<String> {
    crate::text::words(text).filter(|w| !STOPWORDS.contains(&w.as_str())).collect()
}

/// BM25 score of every document for the query terms (0 for documents sharing no term).
pub fn bm25(query: &[String], docs: &[Vec<String>]) -> Vec<f64> {
    if docs.is_empty() || query.is_empty() {
        return vec![0.0; docs.len()];
    }
    let n = docs.len() as f64;
    let avg_len = docs.iter().map(Vec::len).sum::<usize>() as f64 / n;
    let mut unique: Vec<&String> = query.iter().collect();
    unique.sort();
    unique.dedup();
    let df: HashMap<&str, f64> =
        unique.iter().map(|t| (t.as_str(), docs.iter().filter(|d| d.iter().any(|w| w == *t)).count() as f64)).collect();
    docs.iter()
        .map(|doc| {
            let len = doc.len() as f64;
            unique
                .iter()
                .map(|t| {
                    let tf = doc.iter().filter(|w| *w == *t).count() as f64;
                    if tf == 0.0 {
                        return 0.0;
                    }
                    let df = df[t.as_str()];
                    let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg_len.max(1e-9)))
                })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_terms_score_higher_and_misses_score_zero() {
        let docs: Vec<Vec<String>> =
            ["I am allergic to peanuts", "I love peanuts and coffee", "coffee every morning", "the weather is nice"]
                .iter()
                .map(|d| terms(d))
                .collect();
        let s = bm25(&terms("allergic peanuts"), &docs);
        assert!(s[0] > s[1] && s[1] > 0.0);
        assert_eq!(s[2], 0.0);
        assert_eq!(s[3], 0.0);
    }
}
