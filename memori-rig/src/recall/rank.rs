//! Ranking: fuse vector and lexical evidence, then adjust for recency, importance and
//! frequency. Pure functions: the same inputs always give the same ranking and explanation.

use chrono::{DateTime, Utc};

use crate::config::{Fusion, RecallConfig};
use crate::model::Explanation;

/// One candidate as ranking sees it.
#[derive(Clone, Debug)]
pub struct RankDoc<'a> {
    /// Its search terms (see [`super::lexical::terms`]).
    pub terms: &'a [String],
    /// Its L2-normalised embedding, when it has one from the query's model.
    pub vector: Option<&'a [f32]>,
    /// 0 to 1.
    pub importance: f64,
    /// How often it was said.
    pub mention_count: i32,
    /// When it was last said (decay is measured from here).
    pub last_seen_at: DateTime<Utc>,
}

/// A ranked candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// Index into the candidate slice.
    pub index: usize,
    /// Final score.
    pub score: f64,
    /// How it was computed.
    pub explanation: Explanation,
}

/// Dot product of two equally long vectors (cosine similarity for unit vectors).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Ranks of `scores` (1 = best) for entries that are `Some`, ties broken by index.
fn ranks(scores: &[Option<f64>]) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| scores[i].is_some()).collect();
    order.sort_by(|&a, &b| scores[b].unwrap_or(0.0).total_cmp(&scores[a].unwrap_or(0.0)).then(a.cmp(&b)));
    let mut out = vec![None; scores.len()];
    for (rank, i) in order.into_iter().enumerate() {
        out[i] = Some(rank + 1);
    }
    out
}

/// Recency multiplier: `0.5^(age / half_life)`, 1 when decay is off or the memory is newer
/// than `now`.
pub fn decay(last_seen_at: DateTime<Utc>, now: DateTime<Utc>, half_life_days: Option<f64>) -> f64 {
    match half_life_days {
        Some(h) if h > 0.0 => {
            let age_days = (now - last_seen_at).num_milliseconds().max(0) as f64 / 86_400_000.0;
            0.5f64.powf(age_days / h)
        }
        _ => 1.0,
    }
}

/// Rank candidates for a query; returns the best `limit`, best first.
pub fn rank(
    query_terms: &[String],
    query_vector: Option<&[f32]>,
    docs: &[RankDoc<'_>],
    cfg: &RecallConfig,
    now: DateTime<Utc>,
    limit: usize,
) -> Vec<Scored> {
    let vector: Vec<Option<f64>> = docs
        .iter()
        .map(|d| match (query_vector, d.vector) {
            (Some(q), Some(v)) if q.len() == v.len() => Some(f64::from(dot(q, v))),
            _ => None,
        })
        .collect();
    let doc_terms: Vec<Vec<String>> = docs.iter().map(|d| d.terms.to_vec()).collect();
    let lexical: Vec<Option<f64>> =
        super::lexical::bm25(query_terms, &doc_terms).into_iter().map(|s| (s > 0.0).then_some(s)).collect();
    let vector_rank = ranks(&vector);
    let lexical_rank = ranks(&lexical);
    let max_lexical = lexical.iter().flatten().copied().fold(0.0f64, f64::max);

    let mut scored: Vec<Scored> = (0..docs.len())
        .filter(|&i| vector[i].is_some() || lexical[i].is_some())
        .map(|i| {
            let mut fused = Explanation::new("fused", 0.0);
            let mut total = 0.0;
            if let (Some(s), Some(r)) = (vector[i], vector_rank[i]) {
                let part = match cfg.fusion {
                    Fusion::Rrf { k } => cfg.vector_weight / (k + r as f64),
                    Fusion::Weighted => cfg.vector_weight * s.max(0.0),
                };
                total += part;
                fused = fused.with(
                    Explanation::new("vector", part)
                        .with(Explanation::new("cosine", s))
                        .with(Explanation::new("rank", r as f64)),
                );
            }
            if let (Some(s), Some(r)) = (lexical[i], lexical_rank[i]) {
                let part = match cfg.fusion {
                    Fusion::Rrf { k } => cfg.lexical_weight / (k + r as f64),
                    Fusion::Weighted => cfg.lexical_weight * s / max_lexical.max(1e-9),
                };
                total += part;
                fused = fused.with(
                    Explanation::new("lexical", part)
                        .with(Explanation::new("bm25", s))
                        .with(Explanation::new("rank", r as f64)),
                );
            }
            fused.value = total;
            let d = &docs[i];
            let recency = decay(d.last_seen_at, now, cfg.half_life_days);
            let importance = 1.0 + cfg.importance_weight * d.importance.clamp(0.0, 1.0);
            let score = total * recency * importance;
            let explanation = Explanation::new("score", score)
                .with(fused)
                .with(Explanation::new("recency decay", recency))
                .with(Explanation::new("importance boost", importance));
            Scored { index: i, score, explanation }
        })
        .collect();
    scored.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    scored.truncate(limit);
    scored
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::recall::lexical::terms;

    fn doc<'a>(terms: &'a [String], vector: Option<&'a [f32]>, age_days: i64) -> RankDoc<'a> {
        RankDoc { terms, vector, importance: 0.5, mention_count: 1, last_seen_at: now() - Duration::days(age_days) }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn fuses_both_sources_and_explains() {
        let t = [terms("allergic to peanuts"), terms("likes jazz"), terms("peanuts are legumes")];
        let v: [&[f32]; 3] = [&[1.0, 0.0], &[0.0, 1.0], &[0.6, 0.8]];
        let docs: Vec<RankDoc<'_>> = (0..3).map(|i| doc(&t[i], Some(v[i]), 0)).collect();
        let out = rank(
            &terms("peanut allergy? allergic peanuts"),
            Some(&[1.0, 0.0]),
            &docs,
            &RecallConfig::default(),
            now(),
            10,
        );
        assert_eq!(out.iter().map(|s| s.index).collect::<Vec<_>>(), [0, 2, 1]);
        let e = &out[0].explanation;
        assert_eq!(e.value, out[0].score);
        let fused = e.detail("fused").unwrap();
        assert!(fused.detail("vector").is_some() && fused.detail("lexical").is_some());
        assert!(out[2].explanation.detail("fused").unwrap().detail("lexical").is_none());
    }

    #[test]
    fn decay_is_off_by_default_and_halves_per_half_life() {
        assert_eq!(decay(now() - Duration::days(400), now(), None), 1.0);
        assert!((decay(now() - Duration::days(30), now(), Some(30.0)) - 0.5).abs() < 1e-9);
        assert_eq!(decay(now() + Duration::days(3), now(), Some(30.0)), 1.0);
        let t = [terms("same words"), terms("same words")];
        let docs = [doc(&t[0], None, 90), doc(&t[1], None, 0)];
        let cfg = RecallConfig { half_life_days: Some(30.0), ..RecallConfig::default() };
        let out = rank(&terms("same words"), None, &docs, &cfg, now(), 10);
        assert_eq!(out[0].index, 1, "the recent one wins when decay is on");
    }

    #[test]
    fn candidates_without_evidence_are_dropped_and_limit_applies() {
        let t = [terms("alpha"), terms("beta"), terms("alpha beta")];
        let docs: Vec<RankDoc<'_>> = t.iter().map(|t| doc(t, None, 0)).collect();
        let out = rank(&terms("alpha"), None, &docs, &RecallConfig::default(), now(), 1);
        assert_eq!(out.len(), 1);
        assert_eq!(rank(&terms("gamma"), None, &docs, &RecallConfig::default(), now(), 10), vec![]);
    }
}
