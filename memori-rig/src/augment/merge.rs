//! Merge and contradiction decisions: pure functions over texts, vectors and triples.
//!
//! - Two memories **say the same thing** when they have the same kind and either the same
//!   words (case and punctuation aside), or embeddings at least `merge_similarity` apart *and*
//!   content words overlapping by `merge_overlap`. The lexical check keeps symbols (`C` is not
//!   `C++`, `C#` is not `C`), refuses any difference in numbers ("is 31" vs "is 32") and
//!   splits unspaced scripts per character, so Chinese or Japanese text merges on its own
//!   terms. When both memories carry triples, the triples must agree too.
//! - A new triple **contradicts** a stored one about the same subject when the predicate is
//!   exclusive (one value at a time, like `lives_in`) and the objects differ, or when the
//!   predicates are opposites (`likes` / `dislikes`) about the same object. The older
//!   statement is invalidated, whichever order the two arrive in.

use sha2::{Digest, Sha256};

use super::{Extracted, Triple};
use crate::config::AugmentConfig;
use crate::model::MemoryKind;

/// Words that carry no content for the overlap check.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "with", "and", "or", "is", "are", "was", "be", "has",
    "have", "her", "his", "their", "its", "very", "really", "much", "lot", "so", "too", "also", "just",
];

/// Lower-case tokens that keep `+` and `#` glued to a word (`c++`, `c#`, `f#`); characters of
/// unspaced scripts are one token each (see [`crate::text::words`]).
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if crate::text::is_unspaced_script(c) {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() && !current.ends_with(['+', '#']) {
            current.extend(c.to_lowercase());
        } else if matches!(c, '+' | '#') && !current.is_empty() {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
            if c.is_alphanumeric() {
                current.extend(c.to_lowercase());
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn content(tokens: &[String]) -> Vec<&str> {
    let mut c: Vec<&str> = tokens.iter().map(String::as_str).filter(|t| !STOPWORDS.contains(t)).collect();
    c.sort_unstable();
    c.dedup();
    c
}

/// Jaccard overlap of two sorted, deduplicated word lists (1.0 when both are empty).
fn jaccard(a: &[&str], b: &[&str]) -> f64 {
    let shared = a.iter().filter(|t| b.binary_search(t).is_ok()).count();
    let union = a.len() + b.len() - shared;
    if union == 0 { 1.0 } else { shared as f64 / union as f64 }
}

/// Names compared as graph nodes and triple objects: lower case, single spaces, no leading
/// article, no surrounding punctuation.
pub fn normalize_name(name: &str) -> String {
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let words = match words.first() {
        Some(&("the" | "a" | "an")) if words.len() > 1 => &words[1..],
        _ => &words[..],
    };
    words.join(" ").trim_matches(|c: char| !c.is_alphanumeric() && c != '+' && c != '#').to_owned()
}

/// The dedup key of an extracted memory: its kind and a hash of its tokens, so the same
/// sentence (case and punctuation aside) is stored once per entity.
pub fn memory_key(kind: MemoryKind, text: &str) -> String {
    let digest = Sha256::digest(tokens(text).join(" ").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}:{hex}", kind.as_str())
}

/// A triple reduced to what comparisons look at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TripleKey {
    /// Normalised subject.
    pub subject: String,
    /// Predicate as given.
    pub predicate: String,
    /// Normalised object.
    pub object: String,
}

impl TripleKey {
    /// The key of a triple.
    pub fn of(t: &Triple) -> Self {
        Self {
            subject: normalize_name(&t.subject),
            predicate: t.predicate.trim().to_lowercase(),
            object: normalize_name(&t.object),
        }
    }
}

/// The predicate that says the opposite of `predicate`, if there is one.
pub fn opposite(predicate: &str) -> Option<&'static str> {
    Some(match predicate {
        "likes" => "dislikes",
        "dislikes" => "likes",
        "eats" => "does_not_eat",
        "does_not_eat" => "eats",
        _ => return None,
    })
}

/// Whether `new` contradicts the stored statement `old`.
pub fn contradicts(new: &Triple, old: &TripleKey) -> bool {
    let n = TripleKey::of(new);
    if n.subject != old.subject {
        return false;
    }
    (new.exclusive && n.predicate == old.predicate && n.object != old.object)
        || (opposite(&n.predicate) == Some(old.predicate.as_str()) && n.object == old.object)
}

/// A memory as merge decisions see it.
#[derive(Clone, Debug)]
pub struct Statement {
    /// The dedup key it is stored under.
    pub key: String,
    /// Its kind.
    pub kind: MemoryKind,
    /// Its text.
    pub text: String,
    /// Its embedding, normalised.
    pub vector: Option<Vec<f32>>,
    /// Its triple, if it has one.
    pub triple: Option<TripleKey>,
}

fn has_number(t: &str) -> bool {
    t.chars().any(|c| c.is_numeric())
}

/// Whether two memories say the same thing (see the module docs).
pub fn same_statement(a: &Statement, b: &Statement, cfg: &AugmentConfig) -> bool {
    if a.kind != b.kind {
        return false;
    }
    if let (Some(x), Some(y)) = (&a.triple, &b.triple)
        && x != y
    {
        return false;
    }
    let (ta, tb) = (tokens(&a.text), tokens(&b.text));
    if ta == tb {
        return true;
    }
    let (ca, cb) = (content(&ta), content(&tb));
    let differs_in_numbers = ca.iter().chain(&cb).any(|t| has_number(t) && !(ca.contains(t) && cb.contains(t)));
    if differs_in_numbers {
        return false;
    }
    let lexical = jaccard(&ca, &cb);
    let semantic = match (&a.vector, &b.vector) {
        (Some(x), Some(y)) => crate::recall::rank::dot(x, y),
        _ => return false,
    };
    lexical >= cfg.merge_overlap && semantic >= cfg.merge_similarity
}

/// Decide where each new memory goes: the key of a stored (or earlier new) memory that says
/// the same thing, or its own key. `known` holds the entity's live memories and grows with
/// each new one, so duplicates within one batch merge too. Returns one key per new memory,
/// with `true` when it merged into another memory.
pub fn plan(
    new: &[(&Extracted, Option<&[f32]>)],
    known: &mut Vec<Statement>,
    cfg: &AugmentConfig,
) -> Vec<(String, bool)> {
    new.iter()
        .map(|(m, vector)| {
            let candidate = Statement {
                key: memory_key(m.kind, &m.text),
                kind: m.kind,
                text: m.text.clone(),
                vector: vector.map(<[f32]>::to_vec),
                triple: m.triple.as_ref().map(TripleKey::of),
            };
            if let Some(same) = known.iter().find(|k| k.key == candidate.key || same_statement(&candidate, k, cfg)) {
                let merged = same.key != candidate.key;
                return (same.key.clone(), merged);
            }
            let key = candidate.key.clone();
            known.push(candidate);
            (key, false)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(text: &str, vector: Option<Vec<f32>>) -> Statement {
        Statement {
            key: memory_key(MemoryKind::Preference, text),
            kind: MemoryKind::Preference,
            text: text.into(),
            vector,
            triple: None,
        }
    }

    fn same(a: &str, b: &str) -> bool {
        // Vectors that always agree: only the lexical rules decide.
        let v = Some(vec![1.0, 0.0]);
        same_statement(&st(a, v.clone()), &st(b, v), &AugmentConfig::default())
    }

    #[test]
    fn tokens_keep_programming_language_symbols() {
        assert_eq!(tokens("I like C++ and C#, not C."), ["i", "like", "c++", "and", "c#", "not", "c"]);
        assert_eq!(tokens("我喜欢茶"), ["我", "喜", "欢", "茶"]);
    }

    #[test]
    fn lexical_rules() {
        assert!(same("User likes C++", "user likes c++!"));
        assert!(!same("User likes C", "User likes C++"));
        assert!(!same("User lives in Paris", "User lives in Berlin"));
        assert!(!same("Maya is 31", "Maya is 32 years old"));
        assert!(same("Maya enjoys hiking in the mountains", "Maya likes hiking in mountains"));
        assert!(same("我喜欢喝绿茶", "我喜欢绿茶"));
        assert!(!same("我喜欢茶", "我喜欢咖啡"));
    }

    #[test]
    fn embeddings_must_agree_too() {
        let a = st("Maya likes hiking a lot", Some(vec![1.0, 0.0]));
        let b = st("Maya likes hiking", Some(vec![0.0, 1.0]));
        assert!(!same_statement(&a, &b, &AugmentConfig::default()));
        assert!(!same_statement(&st("x y", None), &st("x y z", None), &AugmentConfig::default()));
    }

    fn triple(p: &str, o: &str, exclusive: bool) -> Triple {
        Triple {
            subject: "Maya".into(),
            subject_type: "person".into(),
            predicate: p.into(),
            object: o.into(),
            object_type: "thing".into(),
            exclusive,
        }
    }

    #[test]
    fn contradictions() {
        let paris = TripleKey::of(&triple("lives_in", "Paris", true));
        assert!(contradicts(&triple("lives_in", "Berlin", true), &paris));
        assert!(!contradicts(&triple("lives_in", "paris", true), &paris));
        assert!(!contradicts(&triple("likes", "jazz", false), &TripleKey::of(&triple("likes", "rock", false))));
        assert!(contradicts(&triple("dislikes", "the Jazz", false), &TripleKey::of(&triple("likes", "jazz", false))));
        let mut other = triple("lives_in", "Rome", true);
        other.subject = "Ann".into();
        assert!(!contradicts(&other, &paris));
    }

    #[test]
    fn plan_merges_within_a_batch_and_against_the_store() {
        let e = |text: &str| Extracted {
            kind: MemoryKind::Preference,
            text: text.into(),
            importance: 0.5,
            confidence: 0.6,
            sources: vec![1],
            refers_to: None,
            triple: None,
        };
        let v: &[f32] = &[1.0, 0.0];
        let mut known = vec![st("Maya likes jazz", Some(v.to_vec()))];
        let (a, b, c) = (e("maya likes JAZZ."), e("Maya likes tea"), e("Maya likes tea!"));
        let got = plan(&[(&a, Some(v)), (&b, Some(v)), (&c, Some(v))], &mut known, &AugmentConfig::default());
        assert_eq!(got[0].0, known[0].key);
        assert!(!got[1].1);
        assert_eq!(got[2].0, got[1].0);
        assert_eq!(known.len(), 2);
    }
}
